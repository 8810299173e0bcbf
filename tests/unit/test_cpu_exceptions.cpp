// Exception classes and the double-fault table (Intel SDM Vol. 3, table 6-5).
#include <gtest/gtest.h>

#include <set>

#include "cpu/exceptions.h"

using namespace janus;

TEST(Exceptions, ErrorCodeVectors) {
  const std::set<int> with_code = {8, 10, 11, 12, 13, 14, 17, 21};
  for (int v = 0; v < 256; ++v)
    EXPECT_EQ(exception_has_error_code(uint8_t(v)), with_code.count(v) == 1) << "vector " << v;
}

TEST(Exceptions, Classes) {
  for (int v = 0; v < 32; ++v) {
    ExceptionClass want = ExceptionClass::kBenign;
    if (v == 0 || (v >= 10 && v <= 13)) want = ExceptionClass::kContributory;
    if (v == 14) want = ExceptionClass::kPageFault;
    EXPECT_EQ(exception_class(uint8_t(v)), want) << "vector " << v;
  }
}

TEST(Exceptions, DoubleFaultTable) {
  const uint8_t benign[] = {kDB, kNMI, kBP, kOF, kBR, kUD, kNM, kMF, kAC, kMC, kXM};
  const uint8_t contributory[] = {kDE, kTS, kNP, kSS, kGP};
  // Benign first: the second is delivered as is.
  for (uint8_t a : benign) {
    for (uint8_t b : benign) EXPECT_EQ(combine_exceptions(a, b), b);
    for (uint8_t b : contributory) EXPECT_EQ(combine_exceptions(a, b), b);
    EXPECT_EQ(combine_exceptions(a, kPF), kPF);
  }
  for (uint8_t a : contributory) {
    for (uint8_t b : benign) EXPECT_EQ(combine_exceptions(a, b), b);
    for (uint8_t b : contributory) EXPECT_EQ(combine_exceptions(a, b), kDF) << int(a) << "," << int(b);
    EXPECT_EQ(combine_exceptions(a, kPF), kPF);
  }
  for (uint8_t b : benign) EXPECT_EQ(combine_exceptions(kPF, b), b);
  for (uint8_t b : contributory) EXPECT_EQ(combine_exceptions(kPF, b), kDF);
  EXPECT_EQ(combine_exceptions(kPF, kPF), kDF);
  // During #DF delivery.
  for (uint8_t b : contributory) EXPECT_EQ(combine_exceptions(kDF, b), kTripleFault);
  EXPECT_EQ(combine_exceptions(kDF, kPF), kTripleFault);
  for (uint8_t b : benign) EXPECT_EQ(combine_exceptions(kDF, b), b);
}

TEST(Exceptions, SelectorAndIdtErrorCodes) {
  EXPECT_EQ(selector_error(0x2b), 0x28u);
  EXPECT_EQ(selector_error(0x2b, true), 0x29u);
  EXPECT_EQ(idt_error(13), (13u << 3) | 2u);
  EXPECT_EQ(idt_error(0x80, true), (0x80u << 3) | 3u);
}
