//! Language detection for ticket text: maps `whatlang` guesses to ISO 639-1 codes
//! and decides when a guess is trustworthy enough to report.

use once_cell::sync::Lazy;
use whatlang::{Detector, Lang};

/// Languages a helpdesk realistically sees. whatlang's trigram model confuses short
/// Latin-script texts with exotic languages (e.g. "danke" -> Javanese), so a second
/// pass restricted to these gives much saner guesses for short messages.
static COMMON: Lazy<Detector> = Lazy::new(|| {
    Detector::with_allowlist(vec![
        Lang::Eng,
        Lang::Fra,
        Lang::Spa,
        Lang::Deu,
        Lang::Ita,
        Lang::Por,
        Lang::Nld,
        Lang::Pol,
        Lang::Rus,
        Lang::Ukr,
        Lang::Jpn,
        Lang::Cmn,
        Lang::Kor,
        Lang::Ara,
        Lang::Tur,
        Lang::Swe,
        Lang::Dan,
        Lang::Nob,
        Lang::Fin,
        Lang::Ces,
        Lang::Heb,
        Lang::Hin,
        Lang::Ell,
    ])
});

/// Distinctive function words per language. Words shared between the listed
/// languages ("de", "la", "en", "in", "no", ...) are deliberately left out so that
/// a hit is real evidence. This rescues short sentences such as
/// "Ma commande n'est pas encore arrivée." that whatlang alone gets wrong.
const STOPWORDS: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "the", "is", "are", "my", "your", "you", "i", "it", "not", "have", "has", "and",
            "with", "this", "that", "what", "where", "when", "can", "please", "thanks", "thank",
            "hello", "order", "account", "was", "will", "would", "for", "of", "to", "how", "why",
            "yet", "been", "me", "we", "our", "cannot", "since",
        ],
    ),
    (
        "fr",
        &[
            "est", "pas", "je", "vous", "nous", "les", "des", "pour", "avec", "mon", "ma", "mes",
            "ne", "encore", "merci", "bonjour", "depuis", "sur", "mais", "très", "aussi", "qui",
            "commande", "compte", "arrive", "plus", "au", "aux", "ai", "c", "j", "n", "m", "s",
            "qu", "votre", "vos",
        ],
    ),
    (
        "es",
        &[
            "el", "los", "las", "es", "mi", "mis", "su", "por", "con", "cuenta", "gracias", "hola",
            "todavía", "ya", "pero", "muy", "también", "usted", "puedo", "qué", "cómo", "y", "del",
            "lo", "desde", "llegado", "ayuda", "ayudar", "pueden", "sesión", "estoy",
        ],
    ),
    (
        "pt",
        &[
            "os", "meu", "minha", "não", "ainda", "você", "obrigado", "obrigada", "uma", "é",
            "chegou", "conta", "olá", "do", "da", "dos", "das", "em", "ao", "mas", "foi", "sem",
            "posso", "estou", "isso",
        ],
    ),
    (
        "de",
        &[
            "der",
            "die",
            "das",
            "und",
            "ist",
            "nicht",
            "ich",
            "mein",
            "meine",
            "ihre",
            "ihr",
            "sie",
            "wir",
            "für",
            "mit",
            "noch",
            "auch",
            "bitte",
            "danke",
            "kann",
            "können",
            "seit",
            "habe",
            "hat",
            "ein",
            "eine",
            "zu",
            "auf",
            "bei",
            "dem",
            "den",
            "wie",
            "wo",
            "mich",
            "mir",
            "funktioniert",
            "bestellung",
        ],
    ),
    (
        "it",
        &[
            "il",
            "di",
            "che",
            "mio",
            "mia",
            "è",
            "sono",
            "per",
            "ancora",
            "grazie",
            "ciao",
            "buongiorno",
            "della",
            "gli",
            "anche",
            "ho",
            "questo",
            "come",
            "perché",
            "ordine",
            "arrivato",
            "non",
        ],
    ),
    (
        "nl",
        &[
            "het",
            "een",
            "niet",
            "ik",
            "mijn",
            "u",
            "uw",
            "van",
            "voor",
            "nog",
            "ook",
            "bestelling",
            "dank",
            "bedankt",
            "graag",
            "wel",
            "geen",
            "zijn",
            "heb",
            "heeft",
            "op",
            "wat",
            "waar",
            "aangekomen",
        ],
    ),
    (
        "sv",
        &[
            "och",
            "är",
            "inte",
            "jag",
            "mitt",
            "mina",
            "har",
            "det",
            "ett",
            "för",
            "med",
            "på",
            "av",
            "till",
            "hej",
            "tack",
            "ännu",
            "än",
            "också",
            "vi",
            "ni",
            "beställning",
            "kommit",
        ],
    ),
];

/// Detect the language of `text` and return its ISO 639-1 code, or `None` when the
/// evidence is too weak to act on (e.g. "ok", a bare URL, a number).
pub fn detect_language(text: &str) -> Option<String> {
    // CJK/kana/hangul characters (U+2E80 and up) carry roughly a syllable or word
    // each, so they count double; otherwise "谢谢" would be rejected as too short.
    let letters: usize = text
        .chars()
        .filter(|c| c.is_alphabetic())
        .map(|c| if c as u32 >= 0x2E80 { 2 } else { 1 })
        .sum();
    // Below a handful of letters every guess is noise, whatever the score says.
    if letters < 3 {
        return None;
    }
    let full = whatlang::detect(text)?;
    if full.is_reliable() {
        return Some(iso_639_1(full.lang()).to_string());
    }
    let common = COMMON.detect(text);
    if let Some(info) = &common
        && info.is_reliable()
    {
        return Some(iso_639_1(info.lang()).to_string());
    }
    if let Some(code) = stopword_vote(text) {
        return Some(code.to_string());
    }
    // Fall back to the more confident of the two model guesses. Longer texts get a
    // lower bar because whatlang's confidence stays modest even on clear English.
    let best = match common {
        Some(c) if c.confidence() >= full.confidence() => c,
        _ => full,
    };
    let min_confidence = if letters >= 20 { 0.25 } else { 0.5 };
    (best.confidence() >= min_confidence).then(|| iso_639_1(best.lang()).to_string())
}

/// Count distinctive function words; return a language only with at least two hits
/// and a strict lead, so a single ambiguous word never decides.
fn stopword_vote(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    let mut scores: Vec<(&'static str, usize)> = STOPWORDS
        .iter()
        .map(|(code, list)| (*code, words.iter().filter(|w| list.contains(w)).count()))
        .collect();
    scores.sort_by_key(|&(_, hits)| std::cmp::Reverse(hits));
    match scores.as_slice() {
        [(code, top), (_, second), ..] if *top >= 2 && top > second => Some(code),
        _ => None,
    }
}

/// whatlang reports ISO 639-3; the rest of deskdraft speaks 639-1. The match is
/// exhaustive on purpose: a whatlang upgrade adding languages fails to compile here
/// instead of silently returning a wrong code.
pub fn iso_639_1(lang: Lang) -> &'static str {
    match lang {
        Lang::Epo => "eo",
        Lang::Eng => "en",
        Lang::Rus => "ru",
        Lang::Cmn => "zh",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Ben => "bn",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Ukr => "uk",
        Lang::Kat => "ka",
        Lang::Ara => "ar",
        Lang::Hin => "hi",
        Lang::Jpn => "ja",
        Lang::Heb => "he",
        Lang::Yid => "yi",
        Lang::Pol => "pl",
        Lang::Amh => "am",
        Lang::Jav => "jv",
        Lang::Kor => "ko",
        Lang::Nob => "nb",
        Lang::Dan => "da",
        Lang::Swe => "sv",
        Lang::Fin => "fi",
        Lang::Tur => "tr",
        Lang::Nld => "nl",
        Lang::Hun => "hu",
        Lang::Ces => "cs",
        Lang::Ell => "el",
        Lang::Bul => "bg",
        Lang::Bel => "be",
        Lang::Mar => "mr",
        Lang::Kan => "kn",
        Lang::Ron => "ro",
        Lang::Slv => "sl",
        Lang::Hrv => "hr",
        Lang::Srp => "sr",
        Lang::Mkd => "mk",
        Lang::Lit => "lt",
        Lang::Lav => "lv",
        Lang::Est => "et",
        Lang::Tam => "ta",
        Lang::Vie => "vi",
        Lang::Urd => "ur",
        Lang::Tha => "th",
        Lang::Guj => "gu",
        Lang::Uzb => "uz",
        Lang::Pan => "pa",
        Lang::Aze => "az",
        Lang::Ind => "id",
        Lang::Tel => "te",
        Lang::Pes => "fa",
        Lang::Mal => "ml",
        Lang::Ori => "or",
        Lang::Mya => "my",
        Lang::Nep => "ne",
        Lang::Sin => "si",
        Lang::Khm => "km",
        Lang::Tuk => "tk",
        Lang::Aka => "ak",
        Lang::Zul => "zu",
        Lang::Sna => "sn",
        Lang::Afr => "af",
        Lang::Lat => "la",
        Lang::Slk => "sk",
        Lang::Cat => "ca",
        Lang::Tgl => "tl",
        Lang::Hye => "hy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(text: &str) -> Option<String> {
        detect_language(text)
    }

    #[test]
    fn detects_full_sentences() {
        let cases = [
            (
                "Hello, I cannot log in to my account since yesterday. Can you help me please?",
                "en",
            ),
            (
                "Bonjour, je n'arrive plus à me connecter à mon compte depuis hier. Pouvez-vous m'aider ?",
                "fr",
            ),
            (
                "Hola, no puedo iniciar sesión en mi cuenta desde ayer. ¿Me pueden ayudar?",
                "es",
            ),
            (
                "Hallo, ich kann mich seit gestern nicht mehr in mein Konto einloggen. Können Sie mir helfen?",
                "de",
            ),
            ("O meu pedido ainda não chegou.", "pt"),
        ];
        for (text, code) in cases {
            assert_eq!(lang(text).as_deref(), Some(code), "{text}");
        }
    }

    #[test]
    fn short_sentences_rescued_by_function_words() {
        // whatlang alone says Spanish / Portuguese / Swedish-with-0.02 for these.
        assert_eq!(
            lang("Ma commande n'est pas encore arrivée.").as_deref(),
            Some("fr")
        );
        assert_eq!(
            lang("Mi pedido todavía no ha llegado.").as_deref(),
            Some("es")
        );
        assert_eq!(lang("Where is my order?").as_deref(), Some("en"));
        assert_eq!(lang("Vielen Dank für Ihre Hilfe").as_deref(), Some("de"));
        assert_eq!(
            lang("Min beställning har inte kommit än.").as_deref(),
            Some("sv")
        );
    }

    #[test]
    fn short_texts_with_unambiguous_script() {
        assert_eq!(lang("ありがとう").as_deref(), Some("ja"));
        assert_eq!(lang("谢谢").as_deref(), Some("zh"));
        assert_eq!(lang("شكرا").as_deref(), Some("ar"));
    }

    #[test]
    fn too_little_evidence_is_none() {
        assert_eq!(lang("ok"), None);
        assert_eq!(lang("OK"), None);
        assert_eq!(lang(""), None);
        assert_eq!(lang("12345"), None);
        assert_eq!(lang("Hola"), None);
        assert_eq!(lang("   !!! "), None);
    }

    #[test]
    fn maps_to_iso_639_1() {
        assert_eq!(iso_639_1(Lang::Eng), "en");
        assert_eq!(iso_639_1(Lang::Cmn), "zh");
        assert_eq!(iso_639_1(Lang::Jpn), "ja");
        assert_eq!(iso_639_1(Lang::Nld), "nl");
        assert_eq!(iso_639_1(Lang::Swe), "sv");
        assert_eq!(iso_639_1(Lang::Pes), "fa");
        for l in Lang::all() {
            assert_eq!(iso_639_1(*l).len(), 2, "{l:?}");
        }
    }

    #[test]
    fn stopword_vote_needs_a_clear_lead() {
        assert_eq!(stopword_vote("the cat"), None, "one hit is not enough");
        assert_eq!(stopword_vote("Where is my order?"), Some("en"));
        assert_eq!(stopword_vote("xyz qwerty"), None);
    }
}
