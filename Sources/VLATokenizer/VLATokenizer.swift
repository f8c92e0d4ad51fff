/// SentencePiece unigram and WordPiece tokenizers, exact to the reference libraries. No I/O of its own.
public enum VLATokenizerModule {}
