#include <stdio.h>
#include <base.h>
#include <mid.h>
#include <mid-gen.h>

int main(void) {
    printf("midtool: %s; mid_compute(1) = %d; gen %s\n", base_greeting(), mid_compute(1), MID_GEN);
    return 0;
}
