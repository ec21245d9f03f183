/* base's crt-like object, as glibc ships crt1.o and crti.o: the set's compiler wrapper
 * (../cc) links it into everything it links, so it is part of base's interface. */
__attribute__((visibility("hidden"))) const char base_crt_tag[] = "base crt 1";
