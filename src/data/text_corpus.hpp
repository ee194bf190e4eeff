// Raw text → documents. A corpus path is a file or a directory (its .txt / .jsonl files in
// name order). In .txt files documents are separated by blank lines, or one per line when the
// file has no blank line; in .jsonl files each line is an object whose "text" is a document.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kmoe {

struct CorpusLimits {
  int64_t max_documents = 0;  // 0 = no limit
  int64_t max_doc_chars = 0;  // truncate (at a UTF-8 boundary); 0 = no limit
};

struct Corpus {
  std::vector<std::string> documents;
  std::vector<std::string> files;        // sources read, in order
  std::vector<uint64_t> file_checksums;  // FNV-1a 64 of each source's bytes
};

Corpus read_corpus(const std::string& path, const CorpusLimits& limits);

// The source files of a corpus path, in the order read_corpus reads them.
std::vector<std::string> corpus_files(const std::string& path);
std::string read_whole_file(const std::string& file);

}  // namespace kmoe
