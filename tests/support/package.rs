//! A fixture package compiled from C here: a versioned shared library, its header,
//! pkg-config file, a crt object, a linker script, a static archive, an executable and
//! documentation, laid out as a package output. Tests mutate one file's source at a time.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The parts of the package, as sources a mutation edits. `@PREFIX@` is the package's
/// store path, as a build would embed it.
#[derive(Clone)]
pub struct Package {
    pub prefix: String,
    pub header: String,
    pub source: String,
    pub map: String,
    pub pc: String,
    pub crt: String,
    pub script: String,
    pub static_source: String,
    pub tool: String,
    pub doc: String,
    /// An absolute symlink into the package's own store path.
    pub self_symlink: bool,
}

impl Package {
    pub fn base() -> Package {
        Package {
            prefix: "/nix/store/00000000000000000000000000000000-foo-1.0".into(),
            header: "/* foo: a fixture library */\n#ifndef FOO_H\n#define FOO_H\n\
                     #define FOO_MAX 10\n#define FOO_DATADIR \"@PREFIX@/share/foo\"\n\
                     struct foo { int a; };\nint foo_f(struct foo *p);\nint foo_g(void);\n\
                     extern int foo_table[4];\n#endif\n"
                .into(),
            source: "#include \"foo.h\"\nint foo_table[4] = {1};\n\
                     int foo_f(struct foo *p) { return p->a + 1; }\n\
                     int foo_g(void) { return 7; }\n"
                .into(),
            map: "V1 { global: foo_f; foo_g; foo_table; local: *; };\n".into(),
            pc: "prefix=@PREFIX@\nincludedir=${prefix}/include\nName: foo\nDescription: fixture\n\
                 Version: 1.0\nCflags: -I${includedir}\nLibs: -L${prefix}/lib -lfoo\n"
                .into(),
            crt: "void foo_start(void) { }\n".into(),
            script: "/* GNU ld script */\nGROUP ( @PREFIX@/lib/libfoo.so.1 )\n".into(),
            static_source: "int foo_static(void) { return 1; }\n".into(),
            tool: "#include <stdio.h>\nint main(void) { puts(\"foo\"); return 0; }\n".into(),
            doc: "foo: read me\n".into(),
            self_symlink: false,
        }
    }

    /// Replaces `from` by `to` in one part, checking that `from` is there.
    pub fn edit(mut self, part: fn(&mut Package) -> &mut String, from: &str, to: &str) -> Package {
        let text = part(&mut self);
        assert!(text.contains(from), "{from:?} not in {text:?}");
        *text = text.replace(from, to);
        self
    }

    /// Builds the package output in `dir/out` and returns it.
    pub fn build(&self, dir: &Path) -> PathBuf {
        let out = dir.join("out");
        let src = dir.join("src");
        for d in ["include", "lib/pkgconfig", "bin", "share/doc/foo"] {
            std::fs::create_dir_all(out.join(d)).unwrap();
        }
        std::fs::create_dir_all(&src).unwrap();
        let put = |path: PathBuf, text: &str| {
            std::fs::write(path, text.replace("@PREFIX@", &self.prefix)).unwrap()
        };
        put(out.join("include/foo.h"), &self.header);
        put(src.join("foo.c"), &self.source);
        put(src.join("v.map"), &self.map);
        put(src.join("crt.c"), &self.crt);
        put(src.join("static.c"), &self.static_source);
        put(src.join("tool.c"), &self.tool);
        put(out.join("lib/pkgconfig/foo.pc"), &self.pc);
        put(out.join("lib/libfoo_all.so"), &self.script);
        put(out.join("share/doc/foo/README"), &self.doc);
        let s = |p: &Path| p.to_str().unwrap().to_string();
        let inc = format!("-I{}", s(&out.join("include")));
        let rpath = format!("-Wl,-rpath,{}/lib", self.prefix);
        let map = format!("-Wl,--version-script,{}", s(&src.join("v.map")));
        let lib = s(&out.join("lib/libfoo.so.1"));
        let foo_c = s(&src.join("foo.c"));
        super::run(
            "gcc",
            &[
                "-shared",
                "-fPIC",
                "-O2",
                &inc,
                "-Wl,-soname,libfoo.so.1",
                &map,
                &rpath,
                "-o",
                &lib,
                &foo_c,
            ],
            dir,
        );
        let crt = s(&out.join("lib/foocrt1.o"));
        super::run(
            "gcc",
            &["-c", "-O2", "-o", &crt, &s(&src.join("crt.c"))],
            dir,
        );
        let st = s(&src.join("static.o"));
        super::run(
            "gcc",
            &["-c", "-O2", "-o", &st, &s(&src.join("static.c"))],
            dir,
        );
        super::run("ar", &["rcsD", &s(&out.join("lib/libfoo.a")), &st], dir);
        let tool = s(&out.join("bin/footool"));
        super::run(
            "gcc",
            &["-O2", &rpath, "-o", &tool, &s(&src.join("tool.c"))],
            dir,
        );
        std::os::unix::fs::symlink("libfoo.so.1", out.join("lib/libfoo.so")).unwrap();
        if self.self_symlink {
            std::os::unix::fs::symlink(
                format!("{}/lib/libfoo.so.1", self.prefix),
                out.join("lib/libfoo.so.1.0"),
            )
            .unwrap();
        }
        out
    }
}
