#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace dsv4 {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail("{}: cannot stat: {}", path, std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail("{}: cannot mmap {} bytes: {}", path, size_, std::strerror(e));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

namespace {
#ifdef MADV_POPULATE_READ
constexpr int kMadvPopulateRead = MADV_POPULATE_READ;
#else
constexpr int kMadvPopulateRead = 22;  // Linux 5.14's value; older kernels answer EINVAL
#endif
}  // namespace

void MappedFile::advise(Advice a, size_t offset, size_t len) const {
  if (!data_ || offset >= size_) return;
  if (len > size_ - offset) len = size_ - offset;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t begin = offset / page * page;
  int adv = MADV_NORMAL;
  switch (a) {
    case Advice::Normal:
      adv = MADV_NORMAL;
      break;
    case Advice::Random:
      adv = MADV_RANDOM;
      break;
    case Advice::Sequential:
      adv = MADV_SEQUENTIAL;
      break;
    case Advice::WillNeed:
      adv = MADV_WILLNEED;
      break;
    case Advice::PopulateRead:
      adv = kMadvPopulateRead;
      break;
  }
  ::madvise(const_cast<uint8_t*>(data_) + begin, offset + len - begin, adv);
}

}  // namespace dsv4
