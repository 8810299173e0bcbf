// Bounds-checked little-endian field reads from an image file held in memory. Loaders validate
// sizes first to give specific messages; this is the net that keeps a malformed image from ever
// reading past the end of its buffer.
#pragma once
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>

namespace janus {

class ImageReader {
 public:
  // name is how errors refer to the image, e.g. "kernel '/boot/vmlinuz'".
  ImageReader(std::span<const uint8_t> bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}

  std::span<const uint8_t> bytes() const { return bytes_; }
  uint64_t size() const { return bytes_.size(); }
  const std::string& name() const { return name_; }

  // True when [offset, offset + length) lies inside the image (no overflow).
  bool contains(uint64_t offset, uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }

  // The bytes [offset, offset + length); throws if any lie outside the image.
  std::span<const uint8_t> slice(uint64_t offset, uint64_t length) const {
    if (!contains(offset, length))
      throw std::runtime_error(name_ + ": truncated (needs bytes up to offset " + std::to_string(offset + length) +
                               " but the file has " + std::to_string(bytes_.size()) + ")");
    return bytes_.subspan(offset, length);
  }

  uint8_t u8(uint64_t offset) const { return slice(offset, 1)[0]; }
  uint16_t le16(uint64_t offset) const { return static_cast<uint16_t>(le(offset, 2)); }
  uint32_t le32(uint64_t offset) const { return static_cast<uint32_t>(le(offset, 4)); }
  uint64_t le64(uint64_t offset) const { return le(offset, 8); }

 private:
  uint64_t le(uint64_t offset, unsigned width) const {
    auto b = slice(offset, width);
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++) v |= uint64_t{b[i]} << (8 * i);
    return v;
  }

  std::span<const uint8_t> bytes_;
  std::string name_;
};

}  // namespace janus
