#include <stdio.h>
#include <base.h>
#include <mid.h>

int main(void) {
    printf("midtool: %s; mid_compute(1) = %d\n", base_greeting(), mid_compute(1));
    return 0;
}
