// An owned file descriptor for /dev/kvm, a VM or a vCPU, and the one way Janus issues KVM
// ioctls: every failure throws std::runtime_error naming the ioctl and the errno text.
#pragma once
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace janus {

class KvmFd {
 public:
  KvmFd() = default;
  explicit KvmFd(int fd) : fd_(fd) {}
  ~KvmFd() { reset(); }
  KvmFd(KvmFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  KvmFd& operator=(KvmFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  KvmFd(const KvmFd&) = delete;
  KvmFd& operator=(const KvmFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // ioctl that must succeed; returns its (non-negative) result. EINTR is retried because only
  // KVM_RUN gives EINTR a meaning, and KVM_RUN uses try_ioctl.
  template <typename Arg>
  int ioctl(const char* name, unsigned long request, Arg arg) const {
    for (;;) {
      int r = ::ioctl(fd_, request, arg);
      if (r >= 0) return r;
      if (errno != EINTR) throw std::runtime_error(std::string(name) + " failed: " + std::strerror(errno));
    }
  }
  int ioctl(const char* name, unsigned long request) const { return ioctl(name, request, 0UL); }

  // ioctl whose failure the caller interprets: returns -errno on failure.
  template <typename Arg>
  int try_ioctl(unsigned long request, Arg arg) const {
    int r = ::ioctl(fd_, request, arg);
    return r >= 0 ? r : -errno;
  }

 private:
  int fd_ = -1;
};

}  // namespace janus
