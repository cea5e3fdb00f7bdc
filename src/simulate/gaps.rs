//! Knowledge gaps: the replayed tickets that got no good draft (no draft, a draft below the
//! configured threshold, or a wrong article), grouped by topic, so a support lead sees what to
//! write next. Topics are clusters of the tickets' customer texts (TF-IDF term vectors within a
//! product, joined greedily above a cosine threshold), labelled by their top terms; each comes
//! with its volume, example tickets, the closest existing sources and a suggested article title.
//! The grouping takes any tickets ([`GapTicket`]): the simulation's replays, or serve's live
//! drafts that abstained or that agents found not useful.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::model::{TicketResult, Verdict};

/// Cosine between a ticket and a topic's centroid from which the ticket joins the topic.
const JOIN_SIMILARITY: f32 = 0.22;
/// Topics listed (largest first); the rest are counted.
const MAX_TOPICS: usize = 12;
const EXAMPLE_TICKETS: usize = 5;
const CLOSEST_SOURCES: usize = 3;
const LABEL_TERMS: usize = 3;

/// One topic of tickets without a good draft.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct KnowledgeGap {
    /// Top terms of the topic, e.g. "account · hacked · recover".
    pub topic: String,
    pub product: Option<String>,
    pub product_name: Option<String>,
    /// Tickets in the topic.
    pub volume: usize,
    /// Why they had no good draft: abstained or below the threshold, or a poor draft.
    pub without_draft: usize,
    pub poor_draft: usize,
    pub example_ticket_ids: Vec<i64>,
    /// The customer's words of the ticket closest to the topic's centre (handles and links
    /// removed), what the new article must answer.
    pub representative_question: String,
    /// Sources the drafts of these tickets cited most: what exists and did not answer.
    pub closest_sources: Vec<GapSource>,
    pub suggested_article_title: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct GapSource {
    pub key: String,
    pub title: String,
    pub url: Option<String>,
    /// Tickets of the topic whose draft cited it.
    pub cited_by: usize,
}

/// All knowledge gaps of a run: the listed topics and how many tickets they leave out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct KnowledgeGaps {
    /// Tickets without a good draft.
    pub tickets: usize,
    pub topics: Vec<KnowledgeGap>,
    /// Tickets in topics of one ticket, or beyond the listed topics.
    pub unlisted_tickets: usize,
}

const STOPWORDS: &str = "the a an and or but if of to in on at for with from by is are was were be been being have has had do does did not no yes can could would should will just my me i you your we our us it its this that these those there here what when where why how which who whom them they their he she his her so too very all any some more most other such only own same than then also into over again out up down off about after before while during get got getting please help hi hello hey thanks thank any anyone still even now one know like want need dont don't cant can't im i'm ive i've it's its you're youre doesn't doesnt won't wont didn't didnt isn't isnt trying tried try keep keeps";

fn terms(text: &str) -> Vec<String> {
    let stop: std::collections::HashSet<&str> = STOPWORDS.split_whitespace().collect();
    text.split_whitespace()
        .filter(|w| !w.starts_with('@') && !w.contains("://") && !w.starts_with("www."))
        .flat_map(|w| w.split(|c: char| !c.is_alphanumeric() && c != '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !stop.contains(w.as_str()))
        .collect()
}

type Vector = BTreeMap<String, f32>;

fn normalised(mut vector: Vector) -> Vector {
    let norm = vector.values().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.values_mut().for_each(|v| *v /= norm);
    }
    vector
}

fn dot(a: &Vector, b: &Vector) -> f32 {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small
        .iter()
        .filter_map(|(term, value)| large.get(term).map(|other| value * other))
        .sum()
}

/// Whether a replayed ticket got no good draft at `threshold`.
fn lacks_good_draft(ticket: &TicketResult, threshold: f64) -> bool {
    ticket.verdict != Verdict::Good || f64::from(ticket.confidence) < threshold
}

/// One ticket as the grouping sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GapTicket {
    pub ticket_id: i64,
    pub product: Option<String>,
    pub product_name: Option<String>,
    /// The customer's words (what the topic is made of).
    pub customer_text: String,
    /// Grouped when true; the others only weigh the terms, so a word every ticket uses marks
    /// no topic.
    pub lacks_good_draft: bool,
    /// No draft at all (abstained, below the threshold), as opposed to a poor one.
    pub without_draft: bool,
    /// What its draft cited, or the closest sources when it abstained (`cited_by` unused).
    pub sources: Vec<GapSource>,
}

fn without_handles_and_links(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| !w.starts_with('@') && !w.contains("://"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Groups the replayed tickets without a good draft at `threshold` by topic.
pub fn knowledge_gaps(results: &[TicketResult], threshold: f64) -> KnowledgeGaps {
    let tickets: Vec<GapTicket> = results
        .iter()
        .map(|ticket| GapTicket {
            ticket_id: ticket.ticket_id,
            product: ticket.product.clone(),
            product_name: ticket.product_name.clone(),
            customer_text: ticket.customer_text.clone(),
            lacks_good_draft: lacks_good_draft(ticket, threshold),
            without_draft: ticket.verdict == Verdict::NoDraft
                || f64::from(ticket.confidence) < threshold,
            sources: ticket
                .sources
                .iter()
                .map(|source| GapSource {
                    key: source.key.clone(),
                    title: source.title.clone(),
                    url: source.url.clone(),
                    cited_by: 0,
                })
                .collect(),
        })
        .collect();
    group_knowledge_gaps(&tickets)
}

/// Groups the tickets that lack a good draft by topic. Deterministic: tickets are taken in id
/// order and ties broken by term.
pub fn group_knowledge_gaps(results: &[GapTicket]) -> KnowledgeGaps {
    // Document frequencies over every replayed ticket, so a term common to the whole helpdesk
    // ("account") weighs less than one that marks a topic ("hacked").
    let documents: Vec<Vec<String>> = results.iter().map(|t| terms(&t.customer_text)).collect();
    let mut document_frequency: HashMap<&str, usize> = HashMap::new();
    for document in &documents {
        let mut unique: Vec<&str> = document.iter().map(String::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        for term in unique {
            *document_frequency.entry(term).or_default() += 1;
        }
    }
    let total = results.len().max(1) as f32;
    let mut gaps: Vec<(usize, Vector)> = results
        .iter()
        .enumerate()
        .filter(|(_, t)| t.lacks_good_draft)
        .map(|(index, _)| {
            let mut vector = Vector::new();
            for term in &documents[index] {
                let df = document_frequency.get(term.as_str()).copied().unwrap_or(1) as f32;
                *vector.entry(term.clone()).or_default() += (1.0 + total / df).ln();
            }
            (index, normalised(vector))
        })
        .collect();
    gaps.sort_by_key(|(index, _)| results[*index].ticket_id);
    let ticket_count = gaps.len();

    // Greedy single pass: each ticket joins the closest topic of its product, or starts one.
    struct Topic {
        product: Option<String>,
        members: Vec<usize>,
        centroid: Vector,
        sum: Vector,
    }
    let mut topics: Vec<Topic> = Vec::new();
    for (index, vector) in &gaps {
        let product = &results[*index].product;
        let best = topics
            .iter_mut()
            .filter(|topic| &topic.product == product)
            .map(|topic| (dot(&topic.centroid, vector), topic))
            .filter(|(similarity, _)| *similarity >= JOIN_SIMILARITY)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some((_, topic)) => {
                topic.members.push(*index);
                for (term, value) in vector {
                    *topic.sum.entry(term.clone()).or_default() += value;
                }
                topic.centroid = normalised(topic.sum.clone());
            }
            None => topics.push(Topic {
                product: product.clone(),
                members: vec![*index],
                centroid: vector.clone(),
                sum: vector.clone(),
            }),
        }
    }
    topics.retain(|topic| topic.members.len() >= 2);
    topics.sort_by(|a, b| {
        b.members.len().cmp(&a.members.len()).then_with(|| {
            results[a.members[0]]
                .ticket_id
                .cmp(&results[b.members[0]].ticket_id)
        })
    });
    topics.truncate(MAX_TOPICS);
    let listed: usize = topics.iter().map(|t| t.members.len()).sum();

    let vectors: HashMap<usize, &Vector> = gaps.iter().map(|(i, v)| (*i, v)).collect();
    let topics = topics
        .into_iter()
        .map(|topic| {
            // Label: the terms shared by most members, weighted by the centroid.
            let mut label: Vec<(&String, f32)> = topic
                .centroid
                .iter()
                .map(|(term, weight)| {
                    let members = topic
                        .members
                        .iter()
                        .filter(|i| vectors[i].contains_key(term))
                        .count();
                    (term, weight * members as f32)
                })
                .collect();
            label.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            let label_terms: Vec<&str> = label
                .iter()
                .take(LABEL_TERMS)
                .map(|(t, _)| t.as_str())
                .collect();
            let representative = *topic
                .members
                .iter()
                .max_by(|a, b| {
                    dot(vectors[a], &topic.centroid)
                        .total_cmp(&dot(vectors[b], &topic.centroid))
                        .then_with(|| results[**b].ticket_id.cmp(&results[**a].ticket_id))
                })
                .expect("a topic has members");
            let mut cited: BTreeMap<&str, GapSource> = BTreeMap::new();
            for member in &topic.members {
                for source in &results[*member].sources {
                    let entry = cited.entry(&source.key).or_insert_with(|| GapSource {
                        key: source.key.clone(),
                        title: source.title.clone(),
                        url: source.url.clone(),
                        cited_by: 0,
                    });
                    entry.cited_by += 1;
                }
            }
            let mut closest: Vec<GapSource> = cited.into_values().collect();
            closest.sort_by(|a, b| b.cited_by.cmp(&a.cited_by).then_with(|| a.key.cmp(&b.key)));
            closest.truncate(CLOSEST_SOURCES);
            let first = &results[topic.members[0]];
            let product_name = first.product_name.clone();
            let subject = label_terms
                .iter()
                .map(|t| title_case(t))
                .collect::<Vec<_>>()
                .join(" ");
            let suggested_article_title = match &product_name {
                Some(name) => format!("{name}: {subject}, what to do"),
                None => format!("{subject}: what to do"),
            };
            let question: String =
                without_handles_and_links(&results[representative].customer_text)
                    .chars()
                    .take(200)
                    .collect();
            let without_draft = topic
                .members
                .iter()
                .filter(|i| results[**i].without_draft)
                .count();
            KnowledgeGap {
                topic: label_terms.join(" · "),
                product: topic.product.clone(),
                product_name,
                volume: topic.members.len(),
                without_draft,
                poor_draft: topic.members.len() - without_draft,
                example_ticket_ids: topic
                    .members
                    .iter()
                    .take(EXAMPLE_TICKETS)
                    .map(|i| results[*i].ticket_id)
                    .collect(),
                representative_question: question,
                closest_sources: closest,
                suggested_article_title,
            }
        })
        .collect();
    KnowledgeGaps {
        tickets: ticket_count,
        topics,
        unlisted_tickets: ticket_count - listed,
    }
}

#[cfg(test)]
#[path = "gaps_tests.rs"]
mod tests;
