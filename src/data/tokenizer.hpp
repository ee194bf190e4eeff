// SentencePiece tokenizer: BPE training on documents and encoding / decoding. Piece ids:
// 0 = <unk>, 1 = end-of-text (separates documents); byte fallback keeps every UTF-8 string
// encodable.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace kmoe {

// Trains a BPE model of `vocab_size` pieces on `documents` and writes it to `model_path`.
void train_tokenizer(const std::vector<std::string>& documents, int vocab_size, const std::string& model_path,
                     int threads);

class Tokenizer {
 public:
  explicit Tokenizer(const std::string& model_path);  // throws kmoe::Error naming the file
  ~Tokenizer();
  int vocab_size() const;
  int end_of_text() const;
  std::vector<int> encode(const std::string& text) const;
  std::string decode(const std::vector<int>& ids) const;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string path_;
};

}  // namespace kmoe
