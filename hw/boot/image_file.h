// Reading guest images (kernels, initrds, modules, firmware) from the host file system.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace janus {

// The whole file at path. what names the image in errors ("kernel", "initrd", "bios"...).
// Throws std::runtime_error "cannot read <what> '<path>': <strerror>" when the file cannot be
// read, or "<what> '<path>' is too large (<size>; the limit is <size>)" past max_bytes.
std::vector<uint8_t> read_image_file(const std::string& path, std::string_view what, uint64_t max_bytes);

// At most the first max_bytes of the file at path (fewer if it is shorter): enough to recognise
// an image's format without reading all of it. Same "cannot read" error as read_image_file.
std::vector<uint8_t> read_image_head(const std::string& path, std::string_view what, uint64_t max_bytes);

// The size of the file at path without reading it, so callers can reject an image that cannot
// fit before loading it. Same "cannot read" error as read_image_file.
uint64_t image_file_size(const std::string& path, std::string_view what);

// A size for error messages: "300 MiB", "12 KiB", "700 bytes" (rounded up to the unit).
std::string size_text(uint64_t bytes);

}  // namespace janus
