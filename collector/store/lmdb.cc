/*
 * lmdb.cc - RAII wrappers over LMDB (see lmdb.hh), the environment registry,
 * and the StoreError definitions (errors.hh has no .cc of its own).
 *
 * Thread-safety: the registry is guarded by one mutex; Env::dbi by a mutex
 * per Env; transactions are per thread.  Errors: StoreError.
 */
#include "config.h"

#include "collector/store/lmdb.hh"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <map>
#include <sys/mman.h>
#include <system_error>
#include <thread>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace dmarcwatch::collector
{

namespace
{

std::string storeErrorText(const std::string& operation, int rc, const std::string& detail)
{
  std::string text = "store " + operation;
  if (!detail.empty()) {
    text += ": " + detail;
  }
  if (rc != 0) {
    // mdb_strerror covers errno values too.
    text += std::string(detail.empty() ? ": " : " (") + mdb_strerror(rc) + (detail.empty() ? "" : ")");
  }
  return text;
}

} // namespace

StoreError::StoreError(const std::string& operation, int rc, const std::string& detail) :
  std::runtime_error(storeErrorText(operation, rc, detail)), d_rc(rc)
{
}

bool StoreError::transient() const
{
  switch (d_rc) {
  case MDB_MAP_FULL:
  case MDB_READERS_FULL:
  case MDB_TXN_FULL:
  case MDB_MAP_RESIZED:
  case ENOSPC:
  case EDQUOT:
  case EAGAIN:
  case EBUSY:
    return true;
  default:
    return false;
  }
}

} // namespace dmarcwatch::collector

namespace dmarcwatch::collector::lmdb
{

namespace
{

//! Attempts for a transaction start that fails with MAP_RESIZED or READERS_FULL.
constexpr int s_beginAttempts = 4;

//! The process-wide registry: one Env per (st_dev, st_ino).
struct Registry
{
  std::mutex mutex;
  std::condition_variable closed; //!< an Env finished closing
  struct Entry
  {
    std::weak_ptr<Env> env;
    const Env* raw = nullptr;
  };
  std::map<std::pair<dev_t, ino_t>, Entry> entries;
};

Registry& registry()
{
  static Registry s_registry;
  return s_registry;
}

//! Environments this thread holds a write transaction on (a second one would self-deadlock).
thread_local std::vector<const MDB_env*> t_writing;

void createDirectory(const std::string& dir)
{
  if (::mkdir(dir.c_str(), 0750) == 0 || errno == EEXIST) {
    return;
  }
  if (errno == ENOENT) {
    // Parents first (mode from the umask, like mkdir -p), the store itself 0750.
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
    if (::mkdir(dir.c_str(), 0750) == 0 || errno == EEXIST) {
      return;
    }
  }
  throw StoreError("open", errno, "cannot create directory " + dir);
}

[[noreturn]] void noStore(const std::string& dir, int rc)
{
  throw StoreError("open", rc, "no store at " + dir + ": run dmarcwatch ingest first");
}

void beginWithRetries(Env& env, unsigned flags, MDB_txn** txn, const char* what)
{
  for (int attempt = 1;; ++attempt) {
    int rc = mdb_txn_begin(env.get(), nullptr, flags, txn);
    if (rc == MDB_SUCCESS) {
      return;
    }
    if (attempt < s_beginAttempts && rc == MDB_MAP_RESIZED) {
      // Another process grew the map: adopt its size (0 = the size recorded in the file).
      mdb_env_set_mapsize(env.get(), 0);
      continue;
    }
    if (attempt < s_beginAttempts && rc == MDB_READERS_FULL && env.readerCheck() > 0) {
      continue;
    }
    check(rc, what, env.dir());
  }
}

//! One lookup for both transaction kinds: "not found" is a value, anything else a StoreError.
std::optional<std::string_view> getValue(MDB_txn* txn, MDB_dbi dbi, std::string_view key)
{
  MDB_val k = toVal(key);
  MDB_val v{};
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) {
    return std::nullopt;
  }
  check(rc, "get");
  return toView(v);
}

} // namespace

void check(int rc, const char* operation, std::string_view detail)
{
  if (rc != MDB_SUCCESS) {
    throw StoreError(operation, rc, std::string(detail));
  }
}

std::shared_ptr<Env> Env::open(const std::string& dir, const Options& options)
{
  // Step 1: the directory (created read-write; must hold a data file read-only).
  if (!options.readOnly) {
    createDirectory(dir);
  }
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) {
    int err = errno;
    if (options.readOnly && err == ENOENT) {
      noStore(dir, err);
    }
    throw StoreError("open", err, "cannot stat " + dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    throw StoreError("open", ENOTDIR, dir);
  }
  if (options.readOnly) {
    struct stat dataSt{};
    if (::stat((dir + "/data.mdb").c_str(), &dataSt) != 0 && errno == ENOENT) {
      noStore(dir, ENOENT);
    }
  }

  // Step 2: share an Env already open in this process; wait for one that is closing.
  auto& reg = registry();
  std::unique_lock lock(reg.mutex);
  const auto key = std::make_pair(st.st_dev, st.st_ino);
  for (;;) {
    auto found = reg.entries.find(key);
    if (found == reg.entries.end()) {
      break;
    }
    if (auto env = found->second.env.lock()) {
      if (env->d_readOnly && !options.readOnly) {
        throw StoreError("open", EINVAL, dir + " is already open read-only in this process");
      }
      return env;
    }
    reg.closed.wait(lock);
  }

  // Step 3: a new environment; the Env destructor releases it if a step below throws.
  std::shared_ptr<Env> env(new Env());
  env->d_dir = dir;
  env->d_readOnly = options.readOnly;
  env->d_dev = st.st_dev;
  env->d_ino = st.st_ino;
  check(mdb_env_create(&env->d_env), "create environment", dir);
  check(mdb_env_set_maxdbs(env->d_env, options.maxDbs), "set maxdbs", dir);
  check(mdb_env_set_maxreaders(env->d_env, options.maxReaders), "set maxreaders", dir);
  // Readers take the writer's size from the file (knot kjournalprint does the same).
  check(mdb_env_set_mapsize(env->d_env, options.readOnly ? 0 : options.mapSize), "set mapsize", dir);
  // NORDAHEAD everywhere: lookups touch scattered pages, and kernel read-ahead would map
  // megabytes around each one (a 7-day status on a 700 MiB store grew to 300 MiB RSS).
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
  if (options.readOnly) {
    flags |= MDB_RDONLY;
  }
  else {
    // WRITEMAP: dirty pages live in the shared map, not in malloc'd copies, so a long
    // write transaction can hand them back to the page cache (releaseMappedPages).
    flags |= MDB_WRITEMAP;
    if (!options.sync) {
      flags |= MDB_NOSYNC | MDB_NOMETASYNC;
    }
  }
  int rc = mdb_env_open(env->d_env, dir.c_str(), flags, 0640);
  if (rc != MDB_SUCCESS) {
    if (options.readOnly && rc == ENOENT) {
      noStore(dir, rc);
    }
    check(rc, "open environment", dir);
  }
  env->readerCheck();
  // Opened now, before any chroot: the writer watches its resident size and finds its map.
  env->d_statmFd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  env->d_mapsFd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  struct stat dataSt{};
  if (::stat((dir + "/data.mdb").c_str(), &dataSt) == 0) {
    env->d_dataDev = dataSt.st_dev;
    env->d_dataIno = dataSt.st_ino;
  }
  reg.entries[key] = Registry::Entry{env, env.get()};
  env->d_registered = true;
  return env;
}

Env::~Env()
{
  // Close under the registry lock so no new Env for the same files opens meanwhile
  // (closing a file descriptor drops this process's POSIX locks on that file).  An Env
  // that failed inside Env::open is not registered, and open holds the lock already.
  auto& reg = registry();
  std::unique_lock lock(reg.mutex, std::defer_lock);
  if (d_registered) {
    lock.lock();
  }
  if (d_env != nullptr) {
    mdb_env_close(d_env);
  }
  if (d_statmFd >= 0) {
    ::close(d_statmFd);
  }
  if (d_mapsFd >= 0) {
    ::close(d_mapsFd);
  }
  if (d_registered) {
    auto found = reg.entries.find(std::make_pair(d_dev, d_ino));
    if (found != reg.entries.end() && found->second.raw == this) {
      reg.entries.erase(found);
    }
    lock.unlock();
    reg.closed.notify_all();
  }
}

std::optional<MDB_dbi> Env::dbi(const std::string& name)
{
  std::lock_guard guard(d_dbiMutex);
  if (auto found = d_dbis.find(name); found != d_dbis.end()) {
    return found->second;
  }
  // A handle is opened in its own short transaction and is then valid for every
  // transaction of this Env (lmdb.h mdb_dbi_open).
  MDB_txn* txn = nullptr;
  beginWithRetries(*this, d_readOnly ? MDB_RDONLY : 0, &txn, "begin (open database)");
  MDB_dbi handle = 0;
  int rc = mdb_dbi_open(txn, name.c_str(), d_readOnly ? 0 : MDB_CREATE, &handle);
  if (rc == MDB_NOTFOUND && d_readOnly) {
    mdb_txn_abort(txn);
    return std::nullopt;
  }
  if (rc != MDB_SUCCESS) {
    mdb_txn_abort(txn);
    check(rc, "open database", name);
  }
  check(mdb_txn_commit(txn), "commit (open database)", name);
  d_dbis.emplace(name, handle);
  return handle;
}

int Env::readerCheck()
{
  int dead = 0;
  mdb_reader_check(d_env, &dead);
  return dead;
}

void Env::forEachDataMapping(const std::function<void(uintptr_t, uintptr_t)>& visit) const
{
  if (d_mapsFd < 0) {
    return;
  }
  // The mapping of data.mdb in /proc/self/maps ("start-end perms offset MAJ:MIN inode path").
  // Read afresh each time: mdb_env_set_mapsize may have moved it.
  std::string maps;
  char buf[8192];
  for (off_t offset = 0;;) {
    ssize_t got = ::pread(d_mapsFd, buf, sizeof(buf), offset);
    if (got <= 0) {
      break;
    }
    maps.append(buf, static_cast<size_t>(got));
    offset += got;
  }
  std::string_view rest(maps);
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    uintptr_t start = 0;
    uintptr_t end = 0;
    unsigned long offset = 0;
    unsigned devMajor = 0;
    unsigned devMinor = 0;
    unsigned long long inode = 0;
    char perms[8];
    std::string text(line);
    if (std::sscanf(text.c_str(), "%lx-%lx %7s %lx %x:%x %llu", &start, &end, perms, &offset, &devMajor, &devMinor,
                    &inode) != 7) {
      continue;
    }
    if (inode == d_dataIno && devMajor == major(d_dataDev) && devMinor == minor(d_dataDev) && end > start) {
      visit(start, end);
    }
  }
}

bool Env::releaseMappedPages()
{
  if (d_mapsFd < 0) {
    return false;
  }
  bool released = false;
  forEachDataMapping([&released](uintptr_t start, uintptr_t end) {
    ::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
    released = true;
  });
  return released;
}

void Env::releasePages(std::span<uint8_t> bytes) const
{
  static const auto s_pageSize = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(bytes.data());
  const uintptr_t end = begin + bytes.size();
  const uintptr_t first = (begin + s_pageSize - 1) & ~(s_pageSize - 1);
  const uintptr_t last = end & ~(s_pageSize - 1);
  unsigned flags = 0;
  if (d_readOnly || last <= first || mdb_env_get_flags(d_env, &flags) != MDB_SUCCESS || (flags & MDB_WRITEMAP) == 0) {
    return;
  }
  // Only inside the map of data.mdb: madvise(DONTNEED) on anything else (heap) would lose data.
  std::lock_guard guard(d_mapMutex);
  if (first < d_mapStart || last > d_mapEnd) {
    d_mapStart = d_mapEnd = 0;
    forEachDataMapping([this](uintptr_t start, uintptr_t stop) {
      if (d_mapEnd == 0) {
        d_mapStart = start;
        d_mapEnd = stop;
      }
    });
    if (first < d_mapStart || last > d_mapEnd) {
      return;
    }
  }
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

uint64_t Env::residentFileBytes() const
{
  if (d_statmFd < 0) {
    return 0;
  }
  char buf[128];
  ssize_t got = ::pread(d_statmFd, buf, sizeof(buf) - 1, 0);
  if (got <= 0) {
    return 0;
  }
  // statm: size resident shared text lib data dt (pages); "shared" = resident file pages.
  const char* pos = buf;
  const char* end = buf + got;
  uint64_t fields[3] = {0, 0, 0};
  for (auto& field : fields) {
    while (pos < end && *pos == ' ') {
      ++pos;
    }
    auto res = std::from_chars(pos, end, field);
    if (res.ec != std::errc()) {
      return 0;
    }
    pos = res.ptr;
  }
  static const auto s_pageSize = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return fields[2] * s_pageSize;
}

ReadTxn::ReadTxn(const std::shared_ptr<Env>& env) :
  d_env(env)
{
  beginWithRetries(*d_env, MDB_RDONLY, &d_txn, "begin read transaction");
}

ReadTxn::ReadTxn(ReadTxn&& other) noexcept :
  d_env(std::move(other.d_env)), d_txn(std::exchange(other.d_txn, nullptr))
{
}

ReadTxn::~ReadTxn()
{
  if (d_txn != nullptr) {
    mdb_txn_abort(d_txn);
  }
}

std::optional<std::string_view> ReadTxn::get(MDB_dbi dbi, std::string_view key) const
{
  return getValue(d_txn, dbi, key);
}

WriteTxn::WriteTxn(const std::shared_ptr<Env>& env) :
  d_env(env)
{
  if (std::find(t_writing.begin(), t_writing.end(), env->get()) != t_writing.end()) {
    throw StoreError("begin write transaction", EDEADLK,
                     "this thread already has a write transaction on " + env->dir());
  }
  beginWithRetries(*d_env, 0, &d_txn, "begin write transaction");
  t_writing.push_back(env->get());
}

WriteTxn::~WriteTxn()
{
  abort();
}

void WriteTxn::end()
{
  d_txn = nullptr;
  auto found = std::find(t_writing.begin(), t_writing.end(), d_env->get());
  if (found != t_writing.end()) {
    t_writing.erase(found);
  }
}

void WriteTxn::abort()
{
  if (d_txn != nullptr) {
    mdb_txn_abort(d_txn);
    end();
  }
}

void WriteTxn::commit(bool releasePages)
{
  if (d_txn == nullptr) {
    throw StoreError("commit", EINVAL, "transaction is not active");
  }
  int rc = MDB_SUCCESS;
  std::optional<std::thread> helper;
  std::mutex mutex;
  std::condition_variable wake;
  bool done = false;
  if (releasePages) {
    try {
      helper.emplace([&] {
        std::unique_lock lock(mutex);
        while (!done) {
          d_env->releaseMappedPages();
          wake.wait_for(lock, std::chrono::milliseconds(1));
        }
      });
    }
    catch (const std::system_error&) {
      // No thread: commit anyway, RSS peaks at the size of the transaction.
    }
  }
  rc = mdb_txn_commit(d_txn);
  if (helper) {
    {
      std::lock_guard guard(mutex);
      done = true;
    }
    wake.notify_all();
    helper->join();
    d_env->releaseMappedPages();
  }
  end(); // the transaction is freed whatever commit returned
  check(rc, "commit", d_env->dir());
}

std::optional<std::string_view> WriteTxn::get(MDB_dbi dbi, std::string_view key) const
{
  return getValue(d_txn, dbi, key);
}

void WriteTxn::put(MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags)
{
  MDB_val k = toVal(key);
  MDB_val v = toVal(value);
  check(mdb_put(d_txn, dbi, &k, &v, flags), "put");
}

bool WriteTxn::putNew(MDB_dbi dbi, std::string_view key, std::string_view value)
{
  MDB_val k = toVal(key);
  MDB_val v = toVal(value);
  int rc = mdb_put(d_txn, dbi, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) {
    return false;
  }
  check(rc, "put");
  return true;
}

std::span<uint8_t> WriteTxn::reserve(MDB_dbi dbi, std::string_view key, size_t size)
{
  MDB_val k = toVal(key);
  MDB_val v{size, nullptr};
  check(mdb_put(d_txn, dbi, &k, &v, MDB_RESERVE), "reserve");
  return {static_cast<uint8_t*>(v.mv_data), size};
}

bool WriteTxn::del(MDB_dbi dbi, std::string_view key)
{
  MDB_val k = toVal(key);
  int rc = mdb_del(d_txn, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) {
    return false;
  }
  check(rc, "del");
  return true;
}

Cursor::Cursor(MDB_txn* txn, MDB_dbi dbi)
{
  check(mdb_cursor_open(txn, dbi, &d_cursor), "open cursor");
}

Cursor::~Cursor()
{
  if (d_cursor != nullptr) {
    mdb_cursor_close(d_cursor);
  }
}

bool Cursor::get(MDB_cursor_op op, MDB_val& key, MDB_val& value)
{
  int rc = mdb_cursor_get(d_cursor, &key, &value, op);
  if (rc == MDB_NOTFOUND) {
    return false;
  }
  check(rc, "cursor get");
  return true;
}

bool Cursor::seek(std::string_view key, MDB_val& foundKey, MDB_val& value)
{
  foundKey = toVal(key);
  return get(MDB_SET_RANGE, foundKey, value);
}

void Cursor::put(std::string_view key, std::string_view value, unsigned flags)
{
  MDB_val k = toVal(key);
  MDB_val v = toVal(value);
  check(mdb_cursor_put(d_cursor, &k, &v, flags), "cursor put");
}

} // namespace dmarcwatch::collector::lmdb
