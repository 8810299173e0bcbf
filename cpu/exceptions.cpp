// Exception classes and the double-fault rules (Intel SDM Vol. 3, 6.15, tables 6-4 and 6-5).
#include "cpu/exceptions.h"

namespace janus {

bool exception_has_error_code(uint8_t vector) {
  switch (vector) {
    case kDF: case kTS: case kNP: case kSS: case kGP: case kPF: case kAC:
    case 21:  // #CP, control-protection
      return true;
    default:
      return false;
  }
}

ExceptionClass exception_class(uint8_t vector) {
  switch (vector) {
    case kDE: case kTS: case kNP: case kSS: case kGP:
      return ExceptionClass::kContributory;
    case kPF:
      return ExceptionClass::kPageFault;
    default:
      return ExceptionClass::kBenign;
  }
}

int combine_exceptions(uint8_t first, uint8_t second) {
  const ExceptionClass b = exception_class(second);
  // A benign second exception is simply delivered after (instead of) the first.
  if (b == ExceptionClass::kBenign) return second;
  // A contributory or page fault while delivering #DF shuts the processor down.
  if (first == kDF) return kTripleFault;
  switch (exception_class(first)) {
    case ExceptionClass::kBenign:
      return second;
    case ExceptionClass::kContributory:
      // A page fault raised while delivering a contributory fault is handled serially.
      return b == ExceptionClass::kContributory ? int(kDF) : int(second);
    case ExceptionClass::kPageFault:
      return kDF;  // contributory or page fault after a page fault
  }
  return second;
}

}  // namespace janus
