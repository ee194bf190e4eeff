// The C++ HDF5 reader reads back what the writer wrote (attributes, arrays, empty arrays).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "core/error.hpp"
#include "io/hdf5_reader.hpp"
#include "io/hdf5_writer.hpp"

using namespace kmoe;

namespace {

TEST(Hdf5Io, WriterOutputReadsBack) {
  const std::string path = ::testing::TempDir() + "kmoe_hdf5_io.h5";
  {
    Hdf5Writer out;
    out.set_attribute("/", "deck", std::string("[run]\nname = \"x\"\n"));
    out.set_attribute("/", "lr", 0.25);
    const double loss[3] = {1.0, 0.5, 1.0 / 3};
    out.write_array<double>("/train/loss", {3}, loss);
    const int64_t load[12] = {0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5};
    out.write_array<int64_t>("/router/load", {3, 2, 2}, load);
    out.write_array<int64_t>("/eval/step", {0}, nullptr);
    const double scalar = 7.5;
    out.write_array<double>("/final/test_ppl", {}, &scalar);
    EXPECT_FALSE(std::filesystem::exists(path));  // built in memory until saved
    out.save(path, "record");
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  const Hdf5Reader in(path);
  EXPECT_EQ(in.string_attribute("/", "deck"), "[run]\nname = \"x\"\n");
  EXPECT_EQ(in.number_attribute("/", "lr"), 0.25);
  EXPECT_EQ(in.shape("/router/load"), (std::vector<uint64_t>{3, 2, 2}));
  EXPECT_EQ(in.read<int64_t>("/router/load")[11], 5);
  EXPECT_EQ(in.read<double>("/train/loss"), (std::vector<double>{1.0, 0.5, 1.0 / 3}));
  EXPECT_TRUE(in.shape("/final/test_ppl").empty());
  EXPECT_EQ(in.read<double>("/final/test_ppl"), std::vector<double>{7.5});
  EXPECT_EQ(in.shape("/eval/step"), std::vector<uint64_t>{0});
  EXPECT_FALSE(in.has("/train/missing"));
  EXPECT_THROW(in.string_attribute("/", "missing"), Error);
  std::remove(path.c_str());
}

TEST(Hdf5Io, SavingIntoAMissingDirectoryFailsCleanly) {
  Hdf5Writer out;
  out.set_attribute("/", "status", std::string("running"));
  try {
    out.save("/nonexistent/dir/record.h5", "record");
    FAIL();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("/nonexistent/dir/record.h5"), std::string::npos);
    EXPECT_NE(std::string(err.what()).find("No such file"), std::string::npos);
  }
}

TEST(Hdf5Io, UnreadableFileIsNamed) {
  try {
    Hdf5Reader("/nonexistent/record.h5");
    FAIL();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("/nonexistent/record.h5"), std::string::npos);
  }
}

}  // namespace
