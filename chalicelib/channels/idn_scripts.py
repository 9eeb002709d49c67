"""Mixed-script domain labels: ``gmаil.com`` with a Cyrillic 'а' is refused.

The rule is UTS #39's "highly restrictive" restriction level (unicode.org/reports/tr39,
section 5.2): each label is written in one script, or in Latin with Han and Hiragana and
Katakana (Japanese), Latin with Han and Bopomofo (Chinese), or Latin with Han and Hangul
(Korean). Common and Inherited characters (digits, '-', combining marks, ZWJ/ZWNJ) go with
any script. Checked per label, so ``пример.рф`` (Cyrillic) and ``例え.jp`` pass, and a label
that looks like a Latin brand but holds one Greek or Cyrillic letter does not.

Python's unicodedata has no Script property and the deployed function carries no package
that has it (``regex`` has it, but only as a test tool's dependency). So a character's script
is, in order:
- the Script ranges idna's own table carries (idna.idnadata.scripts: Greek, Han, Hebrew,
  Hiragana, Katakana; exact, from Unicode's Scripts.txt, for the rules of RFC 5892);
- else the first word of its Unicode name (LATIN SMALL LETTER A, CYRILLIC SMALL LETTER A,
  ARMENIAN..., DEVANAGARI..., THAI..., HANGUL SYLLABLE...), which is the script for the
  letters of nearly every script.
Limits of the name's first word, all on the lenient side except the last: scripts whose
names share a first word (OLD ITALIC and OLD PERSIAN, TAI LE and TAI THAM) count as one;
the MODIFIER LETTERs (mostly Common, a few Latin) count as Common; a character whose name
does not start with its script and is not listed below counts as a script of its own
(refused beside another script), which IDNA 2008's valid set makes rare. Only U-labels
reach here (idna has already refused disallowed and unassigned code points).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

_ANY: frozenset[str] = frozenset()  # Common or Inherited: goes with any script

# The first words of names that are not a script: Common (digits, punctuation IDNA allows
# in context) or Inherited (combining marks, joiners).
_COMMON_WORDS = frozenset({"DIGIT", "HYPHEN-MINUS", "COMBINING", "ZERO", "MIDDLE", "MODIFIER"})
# Names whose first word is not the script's own.
_NAMED = {
    "CJK": "HAN", "IDEOGRAPHIC": "HAN",
    "ARABIC-INDIC": "ARABIC", "EXTENDED": "ARABIC",  # (EXTENDED) ARABIC-INDIC DIGIT n
}
# UTS #39 5.1: Han, Hiragana, Katakana, Hangul and Bopomofo also count as the writing systems
# that use them, so a Japanese, Chinese or Korean label resolves to one "script".
_AUGMENTED = {
    "HAN": frozenset({"HAN", "JAPANESE", "KOREAN", "CHINESE"}),
    "HIRAGANA": frozenset({"HIRAGANA", "JAPANESE"}),
    "KATAKANA": frozenset({"KATAKANA", "JAPANESE"}),
    "KATAKANA-HIRAGANA": frozenset({"HIRAGANA", "KATAKANA", "JAPANESE"}),  # the prolonged sound mark
    "HANGUL": frozenset({"HANGUL", "KOREAN"}),
    "BOPOMOFO": frozenset({"BOPOMOFO", "CHINESE"}),
}
_WITH_LATIN = frozenset({"JAPANESE", "KOREAN", "CHINESE"})
_IDNA_SCRIPTS = {"Greek": "GREEK", "Han": "HAN", "Hebrew": "HEBREW", "Hiragana": "HIRAGANA",
                 "Katakana": "KATAKANA"}


def is_single_script(label: str) -> bool:
    """Whether a (U-)label passes UTS #39's highly restrictive level."""
    if label.isascii():
        return True
    scripts = [s for s in (_scripts_of(ch) for ch in label) if s]
    if not scripts:
        return True
    if frozenset.intersection(*scripts):
        return True  # one script (or one writing system: Han with Hiragana, say)
    # Latin beside one of the Han-based writing systems.
    others = [s for s in scripts if "LATIN" not in s]
    return bool(others) and bool(frozenset.intersection(*others) & _WITH_LATIN)


@lru_cache(maxsize=1024)
def _scripts_of(ch: str) -> frozenset[str]:
    from idna.idnadata import scripts
    from idna.intranges import intranges_contain

    code = ord(ch)
    for name, ranges in scripts.items():
        if intranges_contain(code, ranges):
            script = _IDNA_SCRIPTS.get(name, name.upper())
            return _AUGMENTED.get(script, frozenset({script}))
    word = unicodedata.name(ch, f"U+{code:04X}").split(" ", 1)[0]
    if word in _COMMON_WORDS:
        return _ANY
    script = _NAMED.get(word, word)
    return _AUGMENTED.get(script, frozenset({script}))
