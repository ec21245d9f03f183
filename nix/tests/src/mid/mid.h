#ifndef MID_H
#define MID_H
int mid_compute(int x);
#endif
