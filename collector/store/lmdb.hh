/*
 * lmdb.hh - move-only RAII wrappers over the LMDB C API, used by store.cc.
 *
 * Env is one MDB_env per store directory per process, handed out by a
 * registry keyed by the directory's (st_dev, st_ino): LMDB's locks are POSIX
 * advisory locks, and opening the same environment twice in one process would
 * release them behind LMDB's back (lmdb.h "Caveats").  Environments are opened
 * with MDB_NOTLS (libmilter runs one thread per connection, so read
 * transactions are not bound to a thread), read-write ones with MDB_WRITEMAP,
 * read-only ones with MDB_RDONLY and mapsize 0 (the writer's size is used).
 * mdb_reader_check runs at open and periodically.
 *
 * ReadTxn/WriteTxn abort in the destructor; WriteTxn::commit() is explicit.
 * A thread may hold one WriteTxn per environment (a second one would
 * deadlock on LMDB's writer mutex: it is refused with a StoreError).  Cursors
 * must be destroyed before their transaction (declare them after it).
 * Starting a transaction retries MAP_RESIZED (adopt the new size) and
 * READERS_FULL (clear stale readers) a few times before giving up.
 *
 * Thread-safety: Env is shared (shared_ptr) by threads; a transaction and its
 * cursors belong to one thread at a time (a WriteTxn to the thread that began
 * it).  Errors: StoreError carrying the mdb rc; MDB_NOTFOUND is a value
 * (std::optional / bool), never an exception.
 */
#pragma once

#include "collector/common/errors.hh"

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace dmarcwatch::collector::lmdb
{

//! \brief Throw StoreError(operation, rc, detail + mdb_strerror) unless rc is MDB_SUCCESS.
void check(int rc, const char* operation, std::string_view detail = {});

//! A view of bytes as an MDB_val (LMDB never writes through it for puts).
inline MDB_val toVal(std::string_view bytes)
{
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())}; // NOLINT: LMDB's API is not const-correct
}
inline MDB_val toVal(std::span<const uint8_t> bytes)
{
  return MDB_val{bytes.size(), const_cast<uint8_t*>(bytes.data())}; // NOLINT
}
//! The bytes an MDB_val points at (valid until the transaction ends or writes).
inline std::string_view toView(const MDB_val& val)
{
  return {static_cast<const char*>(val.mv_data), val.mv_size};
}
inline std::span<const uint8_t> toSpan(const MDB_val& val)
{
  return {static_cast<const uint8_t*>(val.mv_data), val.mv_size};
}

class Env
{
public:
  struct Options
  {
    bool readOnly = false;
    uint64_t mapSize = 8ULL << 30;
    unsigned maxDbs = 16;
    unsigned maxReaders = 512;
    bool sync = true; //!< false: MDB_NOSYNC|MDB_NOMETASYNC (tests and benchmarks only)
  };

  /*!
   * \brief The environment of dir, opened now or shared with an earlier open in this process.
   * Read-write creates dir (mode 0750).  A read-only request may share a read-write Env;
   * a read-write request while the directory is open read-only here is refused.
   * \throw StoreError (missing store when read-only: "no store at DIR: ...", permissions, lock file)
   */
  static std::shared_ptr<Env> open(const std::string& dir, const Options& options);

  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  [[nodiscard]] MDB_env* get() const { return d_env; }
  [[nodiscard]] const std::string& dir() const { return d_dir; }
  [[nodiscard]] bool readOnly() const { return d_readOnly; }

  /*!
   * \brief Handle of the named database, opened once per Env (MDB_CREATE when read-write).
   * \return nullopt when read-only and the database does not exist.  Blocks while another
   * thread opens a handle; must not be called while this thread holds a transaction.
   */
  std::optional<MDB_dbi> dbi(const std::string& name);

  //! \brief Clear reader slots of dead processes (mdb_reader_check). \return slots cleared.
  int readerCheck();

  /*!
   * \brief Give mapped pages back to the kernel (madvise MADV_DONTNEED over the map).
   * The map is MAP_SHARED: pages (dirty ones too) stay in the page cache and fault back in.
   * \return false when the map could not be found (no /proc).
   */
  bool releaseMappedPages();
  /*!
   * \brief Give back the whole pages inside bytes (part of the map, e.g. a value just written
   * with MDB_RESERVE), as releaseMappedPages does for the whole map.  No-op for other memory.
   */
  void releasePages(std::span<uint8_t> bytes) const;
  //! Resident file-backed pages of this process in bytes (statm "shared"), 0 when unknown.
  [[nodiscard]] uint64_t residentFileBytes() const;

private:
  Env() = default;
  MDB_env* d_env = nullptr;
  std::string d_dir;
  bool d_readOnly = false;
  dev_t d_dev = 0;
  ino_t d_ino = 0;
  int d_statmFd = -1;
  int d_mapsFd = -1;   //!< /proc/self/maps: mdb_env_info has no map address without MDB_FIXEDMAP
  dev_t d_dataDev = 0; //!< data.mdb, to find its mapping there
  ino_t d_dataIno = 0;
  bool d_registered = false; //!< in the registry (the destructor then takes its lock)
  mutable std::mutex d_mapMutex;  //!< guards the two below (releasePages)
  mutable uintptr_t d_mapStart = 0; //!< where data.mdb was mapped when last looked up
  mutable uintptr_t d_mapEnd = 0;
  //! Call visit(start, end) for each mapping of data.mdb in /proc/self/maps.
  void forEachDataMapping(const std::function<void(uintptr_t, uintptr_t)>& visit) const;
  std::mutex d_dbiMutex;
  std::map<std::string, MDB_dbi> d_dbis;
};

//! A read-only snapshot.  Not thread-bound (MDB_NOTLS), but use it from one thread at a time.
class ReadTxn
{
public:
  //! \throw StoreError (retries MAP_RESIZED and READERS_FULL a few times first)
  explicit ReadTxn(const std::shared_ptr<Env>& env);
  ~ReadTxn();
  ReadTxn(ReadTxn&& other) noexcept;
  ReadTxn& operator=(ReadTxn&&) = delete;
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;

  //! \brief Value of key (a view valid for this transaction). \throw StoreError except NOTFOUND
  std::optional<std::string_view> get(MDB_dbi dbi, std::string_view key) const;
  [[nodiscard]] MDB_txn* get() const { return d_txn; }

private:
  std::shared_ptr<Env> d_env;
  MDB_txn* d_txn = nullptr;
};

//! The write transaction of this thread.  Aborts unless commit() succeeded.
class WriteTxn
{
public:
  //! \brief Begin (blocks while another writer, in any process, runs). \throw StoreError
  explicit WriteTxn(const std::shared_ptr<Env>& env);
  ~WriteTxn();
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  WriteTxn(WriteTxn&&) = delete;
  WriteTxn& operator=(WriteTxn&&) = delete;

  std::optional<std::string_view> get(MDB_dbi dbi, std::string_view key) const;
  void put(MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags = 0);
  //! \brief Put with MDB_NOOVERWRITE. \return false when the key existed (nothing written).
  bool putNew(MDB_dbi dbi, std::string_view key, std::string_view value);
  //! \brief Reserve size bytes for key and return them to fill in place (MDB_RESERVE).
  std::span<uint8_t> reserve(MDB_dbi dbi, std::string_view key, size_t size);
  //! \return false when the key did not exist.
  bool del(MDB_dbi dbi, std::string_view key);
  /*!
   * \brief Make everything visible.  The transaction is over afterwards (even on error).
   * \param releasePages for a big transaction: LMDB's commit touches every dirty page once
   * (it clears their dirty flags in the map), so a helper thread keeps handing mapped pages
   * back (Env::releaseMappedPages) until the commit returns, holding RSS flat.
   * Blocks for the fsync unless the Env was opened with sync false.  \throw StoreError
   */
  void commit(bool releasePages = false);
  void abort();
  [[nodiscard]] bool active() const { return d_txn != nullptr; }
  [[nodiscard]] MDB_txn* get() const { return d_txn; }
  [[nodiscard]] const std::shared_ptr<Env>& env() const { return d_env; }

private:
  void end();
  std::shared_ptr<Env> d_env;
  MDB_txn* d_txn = nullptr;
};

//! A cursor; destroy it before its transaction ends.
class Cursor
{
public:
  Cursor(MDB_txn* txn, MDB_dbi dbi);
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  //! \brief Position with op (MDB_FIRST, MDB_NEXT, MDB_SET_RANGE, ...). \return false at NOTFOUND
  bool get(MDB_cursor_op op, MDB_val& key, MDB_val& value);
  //! \brief First key >= key. \return false when none.
  bool seek(std::string_view key, MDB_val& foundKey, MDB_val& value);
  void put(std::string_view key, std::string_view value, unsigned flags = 0);
  [[nodiscard]] MDB_cursor* get() const { return d_cursor; }

private:
  MDB_cursor* d_cursor = nullptr;
};

} // namespace dmarcwatch::collector::lmdb
