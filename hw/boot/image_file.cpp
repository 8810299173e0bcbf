#include "hw/boot/image_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace janus {

namespace {

[[noreturn]] void throw_cannot_read(const std::string& path, std::string_view what, int err) {
  throw std::runtime_error("cannot read " + std::string(what) + " '" + path + "': " + std::strerror(err));
}

// Closes the descriptor on every path out, including throws.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() { if (fd >= 0) close(fd); }
};

enum class PastLimit { kError, kStop };

std::vector<uint8_t> read_file(const std::string& path, std::string_view what, uint64_t max_bytes, PastLimit past) {
  FileDescriptor file{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) throw_cannot_read(path, what, errno);
  struct stat st {};
  if (fstat(file.fd, &st) != 0) throw_cannot_read(path, what, errno);
  if (S_ISDIR(st.st_mode)) throw_cannot_read(path, what, EISDIR);
  auto too_large = [&](uint64_t size) {
    return std::runtime_error(std::string(what) + " '" + path + "' is too large (" + size_text(size) +
                              "; the limit is " + size_text(max_bytes) + ")");
  };
  const bool regular = S_ISREG(st.st_mode);
  if (regular && past == PastLimit::kError && static_cast<uint64_t>(st.st_size) > max_bytes) throw too_large(st.st_size);

  // Read until end of file rather than trusting st_size: pipes and /proc files report 0.
  std::vector<uint8_t> data;
  if (regular) data.reserve(std::min<uint64_t>(st.st_size, max_bytes));
  uint8_t chunk[1 << 16];
  while (data.size() < max_bytes || past == PastLimit::kError) {
    uint64_t want = past == PastLimit::kStop ? std::min<uint64_t>(sizeof chunk, max_bytes - data.size()) : sizeof chunk;
    ssize_t n = read(file.fd, chunk, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_cannot_read(path, what, errno);
    }
    if (n == 0) break;
    if (data.size() + n > max_bytes) throw too_large(data.size() + n);
    data.insert(data.end(), chunk, chunk + n);
  }
  return data;
}

}  // namespace

std::string size_text(uint64_t bytes) {
  constexpr uint64_t KiB = 1024, MiB = 1024 * 1024;
  if (bytes >= MiB) return std::to_string((bytes + MiB - 1) / MiB) + " MiB";
  if (bytes >= KiB) return std::to_string((bytes + KiB - 1) / KiB) + " KiB";
  return std::to_string(bytes) + " bytes";
}

uint64_t image_file_size(const std::string& path, std::string_view what) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw_cannot_read(path, what, errno);
  if (S_ISDIR(st.st_mode)) throw_cannot_read(path, what, EISDIR);
  return static_cast<uint64_t>(st.st_size);
}

std::vector<uint8_t> read_image_file(const std::string& path, std::string_view what, uint64_t max_bytes) {
  return read_file(path, what, max_bytes, PastLimit::kError);
}

std::vector<uint8_t> read_image_head(const std::string& path, std::string_view what, uint64_t max_bytes) {
  return read_file(path, what, max_bytes, PastLimit::kStop);
}

}  // namespace janus
