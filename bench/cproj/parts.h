/* The small C project bench/run.sh builds with make -j2 (bench/cproj). */
#pragma once
unsigned part1(const char* s);
unsigned part2(const char* s);
unsigned part3(const char* s);
unsigned part4(const char* s);
unsigned part5(const char* s);
unsigned part6(const char* s);
