#include "hw/acpi/aml_resources.h"

#include <stdexcept>

namespace janus::aml {

namespace {

// Large resource item names (6.4.3) and the small items (6.4.2) used here.
constexpr uint8_t kDWordAddressSpace = 0x87, kWordAddressSpace = 0x88;
constexpr uint8_t kIoPortDescriptor = 0x47;  // small item 0x08, length 7
constexpr uint8_t kEndTag = 0x79;            // small item 0x0F, length 1
// Address-space resource types.
constexpr uint8_t kMemoryRange = 0, kIoRange = 1, kBusNumberRange = 2;
// General flags: _MAF and _MIF (bounds fixed); bit 0 clear: produced for children, and
// bit 1 (_DEC) clear: positive decode.
constexpr uint8_t kMinMaxFixedProducer = 0x0c;
constexpr uint8_t kIoEntireRange = 0x03;  // _RNG: ISA and non-ISA ranges
constexpr uint8_t kMemoryReadWrite = 0x01;  // _RW, _MEM = non-cacheable
constexpr uint8_t kDecode16 = 0x01;

void put(Bytes& out, uint64_t value, unsigned bytes) {
  for (unsigned i = 0; i < bytes; i++) out.push_back(uint8_t(value >> (8 * i)));
}

// An address-space descriptor with field width `width` bytes: granularity 0 (fixed bounds),
// [first, last], no translation, length last - first + 1.
Bytes address_space(uint8_t item, unsigned width, uint8_t type, uint8_t type_flags, uint64_t first, uint64_t last) {
  if (last < first) throw std::invalid_argument("aml: address window ends before it starts");
  Bytes out{item};
  put(out, 3 + 5 * width, 2);  // length after this field: type, flags, type flags, five fields
  out.push_back(type);
  out.push_back(kMinMaxFixedProducer);
  out.push_back(type_flags);
  put(out, 0, width);
  put(out, first, width);
  put(out, last, width);
  put(out, 0, width);
  put(out, last - first + 1, width);
  return out;
}

}  // namespace

Bytes word_bus_number_window(uint16_t first, uint16_t last) {
  return address_space(kWordAddressSpace, 2, kBusNumberRange, 0, first, last);
}

Bytes word_io_window(uint16_t first, uint16_t last) {
  return address_space(kWordAddressSpace, 2, kIoRange, kIoEntireRange, first, last);
}

Bytes dword_memory_window(uint32_t first, uint32_t last) {
  return address_space(kDWordAddressSpace, 4, kMemoryRange, kMemoryReadWrite, first, last);
}

Bytes io_ports(uint16_t base, uint8_t length) {
  Bytes out{kIoPortDescriptor, kDecode16};
  put(out, base, 2);  // minimum base
  put(out, base, 2);  // maximum base: fixed
  out.push_back(1);   // alignment
  out.push_back(length);
  return out;
}

Bytes resource_template(std::initializer_list<Bytes> descriptors) {
  Bytes bytes;
  for (const Bytes& d : descriptors) append(bytes, d);
  append(bytes, {kEndTag, 0});  // checksum 0: "treat as correct"
  return buffer(bytes);
}

}  // namespace janus::aml
