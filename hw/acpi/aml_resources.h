// ACPI resource descriptors (ACPI spec 6.4 "Resource Data Types for ACPI"): the bytes of a
// ResourceTemplate() as _CRS returns them. Only the descriptors Janus's DSDT needs: the bus
// number, I/O and memory windows a host bridge passes on to its bus (producer address-space
// descriptors, fixed bounds, positive decode), and I/O ports a device itself decodes.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "hw/acpi/aml.h"

namespace janus::aml {

// WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, first, last, 0, count).
Bytes word_bus_number_window(uint16_t first, uint16_t last);
// WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, first, last, 0, count).
Bytes word_io_window(uint16_t first, uint16_t last);
// DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0,
// first, last, 0, length).
Bytes dword_memory_window(uint32_t first, uint32_t last);
// IO(Decode16, base, base, 1, length): fixed ports the device decodes itself.
Bytes io_ports(uint16_t base, uint8_t length);

// ResourceTemplate() { descriptors }: the descriptors, an end tag, as an AML Buffer.
Bytes resource_template(std::initializer_list<Bytes> descriptors);

}  // namespace janus::aml
