#include "data/tokenizer.hpp"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>

#include "core/error.hpp"

namespace kmoe {
namespace {

// Feeds training text to SentencePiece in chunks of at most kChunk bytes cut at spaces: BPE
// training sees the same words, and no document is skipped for being long.
class ChunkedDocuments : public sentencepiece::SentenceIterator {
 public:
  explicit ChunkedDocuments(const std::vector<std::string>& docs) : docs_(docs) { advance(); }
  bool done() const override { return doc_ >= docs_.size(); }
  void Next() override { advance(); }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  static constexpr size_t kChunk = 8192;
  void advance() {
    while (doc_ < docs_.size() && pos_ >= docs_[doc_].size()) {
      ++doc_;
      pos_ = 0;
    }
    if (doc_ >= docs_.size()) return;
    const std::string& d = docs_[doc_];
    size_t end = std::min(d.size(), pos_ + kChunk);
    if (end < d.size()) {
      const size_t space = d.rfind(' ', end);
      if (space != std::string::npos && space > pos_) end = space;
    }
    value_ = d.substr(pos_, end - pos_);
    pos_ = end;
  }
  const std::vector<std::string>& docs_;
  size_t doc_ = 0, pos_ = 0;
  std::string value_;
};

}  // namespace

void train_tokenizer(const std::vector<std::string>& documents, int vocab_size, const std::string& model_path,
                     int threads) {
  std::string prefix = model_path;
  if (prefix.size() > 6 && prefix.compare(prefix.size() - 6, 6, ".model") == 0) prefix.resize(prefix.size() - 6);
  const std::unordered_map<std::string, std::string> args = {
      {"model_prefix", prefix},
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(vocab_size)},
      {"character_coverage", "0.9999"},
      {"byte_fallback", "true"},
      {"max_sentence_length", "1000000"},
      {"input_sentence_size", "2000000"},
      {"shuffle_input_sentence", "true"},
      {"num_threads", std::to_string(std::max(1, threads))},
      {"unk_id", "0"},
      {"eos_id", "1"},
      {"bos_id", "-1"},
      {"pad_id", "-1"},
      {"minloglevel", "2"},
  };
  ChunkedDocuments input(documents);
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &input);
  if (!status.ok()) throw Error(model_path + ": SentencePiece training failed: " + status.ToString());
}

Tokenizer::Tokenizer(const std::string& model_path)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()), path_(model_path) {
  const auto status = processor_->Load(model_path);
  if (!status.ok()) throw Error(model_path + ": cannot load SentencePiece model: " + status.ToString());
}

Tokenizer::~Tokenizer() = default;

int Tokenizer::vocab_size() const { return processor_->GetPieceSize(); }

int Tokenizer::end_of_text() const {
  const int id = processor_->eos_id();
  if (id < 0) throw Error(path_ + ": tokenizer has no end-of-text (eos) piece");
  return id;
}

std::vector<int> Tokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  const auto status = processor_->Encode(text, &ids);
  if (!status.ok()) throw Error(path_ + ": encoding failed: " + status.ToString());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  std::string text;
  const auto status = processor_->Decode(ids, &text);
  if (!status.ok()) throw Error(path_ + ": decoding failed: " + status.ToString());
  return text;
}

}  // namespace kmoe
