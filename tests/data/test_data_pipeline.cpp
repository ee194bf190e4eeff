// Text → shards → tokens → text, splits, shard validation, corpus formats, batch sampling.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/counter_rng.hpp"
#include "core/error.hpp"
#include "data/batch_sampler.hpp"
#include "data/corpus_preparation.hpp"
#include "data/document_split.hpp"
#include "data/jsonl_text.hpp"
#include "data/text_corpus.hpp"
#include "data/token_shard.hpp"
#include "data/tokenizer.hpp"
#include "gradient_check.hpp"

using namespace kmoe;
namespace fs = std::filesystem;

namespace {

std::string temp_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "kmoe_data_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// A small synthetic corpus: n documents of pseudo-random words.
std::vector<std::string> synthetic_documents(int n) {
  const char* words[] = {"the", "union", "state", "of",   "congress", "people", "nation", "law",     "peace",
                         "war", "trade", "money", "year", "great",    "public", "shall",  "federal", "duty"};
  std::vector<std::string> docs;
  for (int d = 0; d < n; ++d) {
    std::string doc;
    for (int w = 0; w < 60; ++w) {
      doc += (w ? " " : "") + std::string(words[int(rng::uniform(3, d, w) * 18)]);
    }
    docs.push_back(doc + ".");
  }
  return docs;
}

std::string expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& err) {
    return err.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(CorpusReader, TextOneDocumentPerLineOrBlankLineSeparated) {
  const std::string dir = temp_dir("txt");
  write_file(dir + "/lines.txt", "first doc\nsecond doc\r\nthird doc\n");
  auto c = read_corpus(dir + "/lines.txt", {});
  EXPECT_EQ(c.documents, (std::vector<std::string>{"first doc", "second doc", "third doc"}));
  write_file(dir + "/paras.txt", "para one\nstill one\n\n\npara two\n");
  c = read_corpus(dir + "/paras.txt", {});
  EXPECT_EQ(c.documents, (std::vector<std::string>{"para one\nstill one", "para two"}));
  c = read_corpus(dir + "/lines.txt", CorpusLimits{2, 5});
  EXPECT_EQ(c.documents, (std::vector<std::string>{"first", "secon"}));
}

TEST(CorpusReader, JsonLinesTextField) {
  const std::string dir = temp_dir("jsonl");
  write_file(dir + "/a.jsonl",
             "{\"id\": 1, \"meta\": {\"text\": \"nested, ignored\"}, \"text\": \"caf\\u00e9 \\\"quoted\\\"\\nline\"}\n"
             "\n{\"text\": \"second\", \"tags\": [1, \"x\", {\"y\": null}]}\n");
  const auto c = read_corpus(dir, {});  // a directory: its .jsonl files
  EXPECT_EQ(c.documents, (std::vector<std::string>{"caf\xc3\xa9 \"quoted\"\nline", "second"}));
  write_file(dir + "/a.jsonl", "{\"text\": \"ok\"}\n{\"text\": 5}\n");
  const auto msg = expect_error([&] { read_corpus(dir + "/a.jsonl", {}); });
  EXPECT_NE(msg.find("a.jsonl:2"), std::string::npos) << msg;
}

TEST(CorpusReader, DeeplyNestedJsonIsAnErrorNotACrash) {
  const std::string deep = "{\"meta\": " + std::string(100000, '[') + std::string(100000, ']') + ", \"text\": \"x\"}";
  const auto msg = expect_error([&] { jsonl_text_field(deep); });
  EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
  const std::string fine = "{\"meta\": " + std::string(100, '[') + std::string(100, ']') + ", \"text\": \"x\"}";
  EXPECT_EQ(jsonl_text_field(fine), std::optional<std::string>("x"));
}

TEST(DocumentSplit, DeterministicDisjointAndNearTheFractions) {
  const auto a = split_documents(10000, 7, 0.1, 0.1);
  EXPECT_EQ(a, split_documents(10000, 7, 0.1, 0.1));
  EXPECT_NE(a, split_documents(10000, 8, 0.1, 0.1));
  const auto count = [&](Split s) { return std::count(a.begin(), a.end(), s); };
  EXPECT_NEAR(count(Split::Validation) + count(Split::Test), 1000, 100);
  EXPECT_NEAR(count(Split::Test), 100, 40);
}

TEST(TokenShard, Uint16AndUint32VariantsRoundTrip) {
  const std::string dir = temp_dir("shards");
  const std::vector<uint32_t> small = {0, 1, 65535, 42};
  write_token_shard(dir + "/u16.bin", small, 65536 - 1);  // ids fit 16 bits
  TokenShard u16(dir + "/u16.bin", 65535 + 1);
  EXPECT_EQ(u16.version(), kShardVersionU16);
  EXPECT_EQ(u16.size(), 4);
  EXPECT_EQ(u16[2], 65535u);
  const std::vector<uint32_t> big = {0, 70000, 99999};
  write_token_shard(dir + "/u32.bin", big, 100000);
  TokenShard u32(dir + "/u32.bin", 100000);
  EXPECT_EQ(u32.version(), kShardVersionU32);
  EXPECT_EQ(u32[1], 70000u);
  EXPECT_EQ(fs::file_size(dir + "/u32.bin"), 1024u + 3 * 4);
}

TEST(TokenShard, BadHeadersGiveErrorsNamingTheFile) {
  const std::string dir = temp_dir("bad");
  write_token_shard(dir + "/good.bin", {1, 2, 3, 4}, 10);
  // Wrong magic.
  std::string bytes;
  {
    std::ifstream in(dir + "/good.bin", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string wrong = bytes;
  wrong[0] ^= 0x5A;
  write_file(dir + "/magic.bin", wrong);
  auto msg = expect_error([&] { TokenShard(dir + "/magic.bin", 10); });
  EXPECT_NE(msg.find("magic.bin"), std::string::npos);
  EXPECT_NE(msg.find("magic"), std::string::npos);
  // Truncated body and truncated header.
  write_file(dir + "/short.bin", bytes.substr(0, bytes.size() - 3));
  msg = expect_error([&] { TokenShard(dir + "/short.bin", 10); });
  EXPECT_NE(msg.find("short.bin"), std::string::npos);
  EXPECT_NE(msg.find("truncated"), std::string::npos);
  write_file(dir + "/tiny.bin", bytes.substr(0, 100));
  EXPECT_NE(expect_error([&] { TokenShard(dir + "/tiny.bin", 10); }).find("tiny.bin"), std::string::npos);
  // A token outside the vocabulary.
  msg = expect_error([&] { TokenShard(dir + "/good.bin", 4); });
  EXPECT_NE(msg.find("good.bin"), std::string::npos);
  EXPECT_NE(msg.find("token 4"), std::string::npos);
}

RunDeck prep_deck(const std::string& corpus, const std::string& data_dir) {
  return parse_run_deck_string("", "prep.toml",
                               {"data.corpus=\"" + corpus + "\"", "data.data_dir=\"" + data_dir + "\"",
                                "model.vocab_size=320", "data.holdout_fraction=0.3", "eval.test_fraction=0.3"});
}

TEST(CorpusPreparation, TextToShardsToTokensToText) {
  const std::string dir = temp_dir("prep");
  const auto docs = synthetic_documents(60);
  std::string text;
  for (const auto& d : docs) text += d + "\n";
  write_file(dir + "/corpus.txt", text);
  std::ostringstream log;
  const auto prepared = prepare_corpus(prep_deck(dir + "/corpus.txt", dir + "/out"), log);
  EXPECT_FALSE(prepared.reused);
  EXPECT_EQ(prepared.documents[0] + prepared.documents[1] + prepared.documents[2], 60);
  for (int s = 0; s < 3; ++s) EXPECT_GT(prepared.tokens[s], 0);
  // Decode every split back: the documents come back exactly, each followed by end-of-text.
  const Tokenizer tokenizer(prepared.tokenizer);
  const auto split = split_documents(60, 1234, 0.3, 0.3);
  const std::string shards[3] = {prepared.train, prepared.val, prepared.test};
  for (int s = 0; s < 3; ++s) {
    TokenShard shard(shards[s], 320);
    std::vector<std::string> decoded;
    std::vector<int> current;
    for (int64_t i = 0; i < shard.size(); ++i) {
      if (int(shard[i]) == tokenizer.end_of_text()) {
        decoded.push_back(tokenizer.decode(current));
        current.clear();
      } else {
        current.push_back(int(shard[i]));
      }
    }
    std::vector<std::string> expected;
    for (size_t d = 0; d < docs.size(); ++d) {
      if (int(split[d]) == s) expected.push_back(docs[d]);
    }
    EXPECT_EQ(decoded, expected) << "split " << s;
  }
  EXPECT_GT(prepared.unigram_entropy, 1.0);
  // Prepared once: the second call reuses it.
  EXPECT_TRUE(prepare_corpus(prep_deck(dir + "/corpus.txt", dir + "/out"), log).reused);
}

TEST(CorpusPreparation, UnigramEntropyByHand) {
  EXPECT_NEAR(unigram_entropy({0, 1, 0, 1}, 4), std::log(2.0), 1e-15);
  EXPECT_NEAR(unigram_entropy({3, 3, 3}, 4), 0.0, 1e-15);
}

TEST(BatchSampler, SameBatchesForTheSameSeedAtAnyThreadCount) {
  // This suite also runs with OMP_NUM_THREADS=1 (ctest data_one_thread); both compare to the
  // counter-RNG formula, so both produce the same batches.
  const std::string dir = temp_dir("sampler");
  std::vector<uint32_t> tokens(1000);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = uint32_t(i % 97);
  write_token_shard(dir + "/t.bin", tokens, 97);
  TokenShard shard(dir + "/t.bin", 97);
  TrainBatchSampler sampler(shard, 16, 42);
  auto batch = make_batch(4, 16);
  sampler.fill(5, batch);
  const auto in = kmoe::testing::to_vector(batch.inputs), out = kmoe::testing::to_vector(batch.targets);
  for (int row = 0; row < 4; ++row) {
    const double u = rng::uniform(42, rng::stream_id(rng::Purpose::DataOrder, 3), 5 * 4 + row);
    const int64_t start = int64_t(u * (1000 - 16));
    for (int t = 0; t < 16; ++t) {
      EXPECT_EQ(in[row * 16 + t], double(tokens[start + t]));
      EXPECT_EQ(out[row * 16 + t], double(tokens[start + t + 1]));
    }
  }
  auto again = make_batch(4, 16);
  TrainBatchSampler(shard, 16, 42).fill(5, again);
  EXPECT_EQ(kmoe::testing::to_vector(again.inputs), in);
  TrainBatchSampler(shard, 16, 43).fill(5, again);
  EXPECT_NE(kmoe::testing::to_vector(again.inputs), in);
}

TEST(BatchSampler, EvaluationWindowsTileTheSplit) {
  const std::string dir = temp_dir("eval");
  std::vector<uint32_t> tokens(50);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = uint32_t(i);
  write_token_shard(dir + "/v.bin", tokens, 50);
  TokenShard shard(dir + "/v.bin", 50);
  EvalWindows windows(shard, 8);
  EXPECT_EQ(windows.count(), 6);  // (50 − 1) / 8
  auto batch = make_batch(2, 8);
  windows.fill(4, batch);
  const auto targets = kmoe::testing::to_vector(batch.targets);
  EXPECT_EQ(targets.front(), 33.0);  // window 4 covers tokens 32..40, targets 33..40
  EXPECT_EQ(targets.back(), 48.0);
  EXPECT_THROW(windows.fill(5, batch), Error);
}

}  // namespace
