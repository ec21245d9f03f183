/* A small library in libc's role: versioned symbols, data, a linker script. */
#include "base.h"

int base_calls = 0;

int base_add(int a, int b) {
    base_calls++;
    return a + b;
}

const char *base_greeting(void) {
    return "hello from base v1";
}
