// x86 exception vectors and the rules that combine them (Intel SDM Vol. 3, 6.15 and table 6-5).
#pragma once
#include <cstdint>

namespace janus {

enum Vector : uint8_t {
  kDE = 0, kDB = 1, kNMI = 2, kBP = 3, kOF = 4, kBR = 5, kUD = 6, kNM = 7, kDF = 8,
  kTS = 10, kNP = 11, kSS = 12, kGP = 13, kPF = 14, kMF = 16, kAC = 17, kMC = 18, kXM = 19,
};

// Exceptions that push an error code in protected and long mode.
bool exception_has_error_code(uint8_t vector);

enum class ExceptionClass { kBenign, kContributory, kPageFault };
ExceptionClass exception_class(uint8_t vector);

// What delivering `second` while delivering `first` turns into: second itself, #DF, or a triple
// fault (returned as kTripleFault).
constexpr int kTripleFault = -1;
int combine_exceptions(uint8_t first, uint8_t second);

// Page-fault error code bits.
namespace pf_error {
constexpr uint32_t P = 1u << 0, W = 1u << 1, U = 1u << 2, RSVD = 1u << 3, I = 1u << 4, PK = 1u << 5;
}

// Selector error code: index | TI | EXT (for #GP/#TS/#NP/#SS on segment loads, IDT index | IDT bit).
inline uint32_t selector_error(uint16_t selector, bool external = false) {
  return (selector & 0xfffc) | (external ? 1u : 0u);
}
inline uint32_t idt_error(uint8_t vector, bool external = false) {
  return (uint32_t(vector) << 3) | 2u | (external ? 1u : 0u);
}

}  // namespace janus
