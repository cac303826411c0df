# Runtime hook for nltk that replaces pyinstaller-hooks-contrib's (a hook directory of the spec comes first, and
# the first runtime hook named for a module wins). Contrib's hook runs `import nltk` at every start of the frozen
# application, before any of its code, only to add `<bundle>/nltk_data` to nltk's search path. That import pulls
# scipy and scikit-learn and took 3.7 s on every command, window start and spawned DataLoader worker (measured:
# `dmtl-studio --version` 0.6 s -> 4.4 s). The bundle has no nltk_data folder: WordNet is read from `wordnet/`,
# whose path core/augment/wordnet.py gives nltk itself, and nltk is imported only when synonyms are needed.
