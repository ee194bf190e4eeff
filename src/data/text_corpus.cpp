#include "data/text_corpus.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "core/fnv_hash.hpp"
#include "data/jsonl_text.hpp"

namespace kmoe {
namespace fs = std::filesystem;

namespace {

bool is_blank(const std::string& line) { return line.find_first_not_of(" \t\r") == std::string::npos; }

std::string strip_cr(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::vector<std::string> text_documents(const std::string& content) {
  std::vector<std::string> lines;
  std::istringstream in(content);
  for (std::string line; std::getline(in, line);) lines.push_back(strip_cr(line));
  const bool paragraphs = std::any_of(lines.begin(), lines.end(), is_blank);
  std::vector<std::string> docs;
  std::string current;
  for (const auto& line : lines) {
    if (!paragraphs) {
      if (!is_blank(line)) docs.push_back(line);
      continue;
    }
    if (is_blank(line)) {
      if (!current.empty()) docs.push_back(current);
      current.clear();
    } else {
      current += (current.empty() ? "" : "\n") + line;
    }
  }
  if (!current.empty()) docs.push_back(current);
  return docs;
}

std::vector<std::string> jsonl_documents(const std::string& content, const std::string& file) {
  std::vector<std::string> docs;
  std::istringstream in(content);
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (is_blank(line)) continue;
    try {
      const auto text = jsonl_text_field(line);
      if (!text) throw Error("record has no \"text\" string");
      if (!text->empty()) docs.push_back(*text);
    } catch (const Error& err) {
      throw err.with_context(file + ":" + std::to_string(line_number));
    }
  }
  return docs;
}

// Cuts to at most n bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

bool is_corpus_file(const fs::path& p) {
  const auto ext = p.extension().string();
  return ext == ".txt" || ext == ".jsonl";
}

}  // namespace

std::vector<std::string> corpus_files(const std::string& path) {
  std::vector<std::string> files;
  if (fs::is_directory(path)) {
    for (const auto& entry : fs::directory_iterator(path)) {
      if (entry.is_regular_file() && is_corpus_file(entry.path())) files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw Error(path + ": corpus directory has no .txt or .jsonl files");
  } else if (fs::is_regular_file(path)) {
    if (!is_corpus_file(path)) throw Error(path + ": corpus files must end in .txt or .jsonl");
    files.push_back(path);
  } else {
    throw Error(path + ": corpus not found (run scripts/fetch-corpus.sh for the default corpus)");
  }
  return files;
}

std::string read_whole_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file + ": cannot read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Corpus read_corpus(const std::string& path, const CorpusLimits& limits) {
  Corpus corpus;
  corpus.files = corpus_files(path);
  for (const auto& file : corpus.files) {
    const std::string content = read_whole_file(file);
    corpus.file_checksums.push_back(fnv1a64(content));
    const auto docs = fs::path(file).extension() == ".jsonl" ? jsonl_documents(content, file) : text_documents(content);
    for (const auto& doc : docs) {
      if (limits.max_documents > 0 && int64_t(corpus.documents.size()) >= limits.max_documents) break;
      corpus.documents.push_back(limits.max_doc_chars > 0 ? truncate_utf8(doc, size_t(limits.max_doc_chars)) : doc);
    }
  }
  if (corpus.documents.empty()) throw Error(path + ": corpus has no documents");
  return corpus;
}

}  // namespace kmoe
