#include "mid.h"
#include <base.h>

int mid_compute(int x) {
    return base_add(x, BASE_MAGIC);
}
