#ifndef BASE_H
#define BASE_H
#define BASE_MAGIC 40
extern int base_calls;
int base_add(int a, int b);
const char *base_greeting(void);
#endif
