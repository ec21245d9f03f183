#include <stdio.h>
#include <base.h>
#include <mid.h>

int main(void) {
    printf("%s; mid_compute(2) = %d; magic %d\n", base_greeting(), mid_compute(2), BASE_MAGIC);
    return 0;
}
