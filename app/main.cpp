#include <cstdio>
int main() { std::puts("janus: under construction"); return 1; }
