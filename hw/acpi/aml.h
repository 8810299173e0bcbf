// A tiny AML (ACPI Machine Language) encoder: just the terms Janus's DSDT is built from, each
// returning its bytes as ACPI spec chapter 20 ("ACPI Machine Language Specification") encodes
// them. Objects nest by passing one term's bytes into another.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace janus::aml {

using Bytes = std::vector<uint8_t>;

// Opcodes and prefixes used here (ACPI spec 20.2).
constexpr uint8_t kZeroOp = 0x00, kOneOp = 0x01, kNameOp = 0x08, kBytePrefix = 0x0a, kWordPrefix = 0x0b,
                  kDWordPrefix = 0x0c, kStringPrefix = 0x0d, kQWordPrefix = 0x0e, kScopeOp = 0x10,
                  kBufferOp = 0x11, kPackageOp = 0x12, kDualNamePrefix = 0x2e, kMultiNamePrefix = 0x2f,
                  kExtOpPrefix = 0x5b, kDeviceOp = 0x82, kRootChar = 0x5c, kParentPrefixChar = 0x5e;

// PkgLength for a package whose contents after the PkgLength are body_length bytes: the encoded
// value counts the PkgLength bytes themselves. 1 byte up to 63, else a lead byte holding the
// count of following bytes (bits 7:6) and the low nibble, then 8 bits per byte (up to 2^28-1).
// Throws std::length_error past that.
Bytes pkg_length(size_t body_length);

// A NameString: optional '\' or '^' prefixes, then '.'-separated segments of up to 4 characters
// (padded with '_'), e.g. "\\_S5_", "_SB.PCI0". Throws std::invalid_argument for a segment
// longer than 4 characters or an empty segment.
Bytes name_string(std::string_view path);

// The shortest integer encoding: ZeroOp, OneOp, or Byte/Word/DWord/QWord constant.
Bytes integer(uint64_t value);
// A null-terminated ASCII string constant.
Bytes string(std::string_view text);
// EisaId("PNP0A03"): a compressed EISA ID (three letters A-Z, four hex digits) as a DWord
// integer, the form _HID takes for PNP IDs. Throws std::invalid_argument for another shape.
Bytes eisa_id(std::string_view id);
// Buffer() { bytes }: a buffer whose size is its initializer's (e.g. a _CRS resource template).
Bytes buffer(const Bytes& bytes);

// Name(path, object)
Bytes name(std::string_view path, const Bytes& object);
// Package() { elements... } (at most 255 elements).
Bytes package(std::initializer_list<Bytes> elements);
// Scope(path) { terms } and Device(path) { terms }: terms is the concatenated body.
Bytes scope(std::string_view path, const Bytes& terms);
Bytes device(std::string_view path, const Bytes& terms);

// Appends b to a (building a TermList from several terms).
void append(Bytes& a, const Bytes& b);

}  // namespace janus::aml
