#include <stdio.h>
#include <mid.h>

int main(void) {
    printf("prog2: mid_compute(5) = %d, MID_FLAG = %d\n", mid_compute(5), MID_FLAG);
    return 0;
}
