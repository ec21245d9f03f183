//! llvm-ifs text (IfsVersion 3.0), for interoperating with LLVM's interface stubs.
//!
//! Placeholder until the IFS reader and writer land.

use super::Interface;

pub fn parse(_text: &str) -> Result<Interface, String> {
    Err("llvm-ifs input is not supported yet".into())
}

pub fn render(_iface: &Interface) -> String {
    String::new()
}
