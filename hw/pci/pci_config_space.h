// The registers of a PCI configuration space (PCI Local Bus spec 3.0, chapter 6): 256 bytes
// where every bit is read-only, read/write, or write-1-to-clear (status error bits). A device
// defines each register's power-on value and which bits software may change; bits it never
// defines read 0, as unimplemented registers must.
#pragma once
#include <array>
#include <cstdint>

namespace janus::pci {

constexpr unsigned kConfigSpaceSize = 256;

// Type 0 header offsets.
constexpr unsigned kVendorId = 0x00;
constexpr unsigned kDeviceId = 0x02;
constexpr unsigned kCommand = 0x04;
constexpr unsigned kStatus = 0x06;
constexpr unsigned kRevisionId = 0x08;
constexpr unsigned kClassCode = 0x09;      // 3 bytes: programming interface, subclass, base class
constexpr unsigned kCacheLineSize = 0x0c;
constexpr unsigned kLatencyTimer = 0x0d;
constexpr unsigned kHeaderType = 0x0e;
constexpr unsigned kBar0 = 0x10;           // six BARs, 0x10-0x27
constexpr unsigned kSubsystemVendorId = 0x2c;
constexpr unsigned kInterruptLine = 0x3c;
constexpr unsigned kInterruptPin = 0x3d;

// Command register bits.
constexpr uint16_t kCommandIoSpace = 1u << 0;
constexpr uint16_t kCommandMemorySpace = 1u << 1;
constexpr uint16_t kCommandBusMaster = 1u << 2;
constexpr uint16_t kCommandSpecialCycles = 1u << 3;
constexpr uint16_t kCommandParityErrorResponse = 1u << 6;
constexpr uint16_t kCommandSerrEnable = 1u << 8;

// Status register bits.
constexpr uint16_t kStatusFastBackToBack = 1u << 7;
constexpr uint16_t kStatusDevselMedium = 1u << 9;  // DEVSEL timing field = 01
// The error bits software clears by writing 1: detected parity error, signaled system error,
// received master abort, received target abort, signaled target abort, master data parity error.
constexpr uint16_t kStatusErrorBits = 0xf900;

constexpr uint8_t kHeaderTypeMultiFunction = 0x80;  // header type bit 7: functions 1-7 may exist

}  // namespace janus::pci

namespace janus {

class PciConfigSpace {
 public:
  // The registers every function has: IDs, revision and class code (read-only) and the header
  // type. Everything else reads 0 until defined.
  PciConfigSpace(uint16_t vendor_id, uint16_t device_id, uint8_t revision, uint32_t class_code, uint8_t header_type);

  // Register at offset (size bytes, little-endian) powers on as value; bits set in writable
  // take what software writes, bits set in write_one_to_clear are cleared by writing 1, and the
  // rest ignore writes.
  void define(unsigned offset, unsigned size, uint32_t value, uint32_t writable, uint32_t write_one_to_clear = 0);

  // Any offset and size with offset + size <= 256.
  uint32_t read(unsigned offset, unsigned size) const;
  void write(unsigned offset, unsigned size, uint32_t value);

 private:
  std::array<uint8_t, pci::kConfigSpaceSize> value_{};
  std::array<uint8_t, pci::kConfigSpaceSize> writable_{};
  std::array<uint8_t, pci::kConfigSpaceSize> write_one_to_clear_{};
};

}  // namespace janus
