//! The review console: the queue of drafts (filters, search, pages, keyboard shortcuts), one
//! draft beside its ticket (thread, requester, product name, priority, age, Freshdesk link;
//! editor, flags highlighted, sources, confidence band with its measured precision), and the
//! lead's view (live quality charts, live and simulated risk-coverage, knowledge gaps, the
//! latest simulation report). Server-rendered HTML with one stylesheet and one small script
//! served from the binary: no build step. Sign-in, sessions and the action forms are `page.rs`.

mod charts;
mod draft_view;
mod highlight;
mod layout;
mod lead;
mod lead_gaps;
pub mod names;
mod quality;
pub mod queue_view;

pub use draft_view::draft_page;
pub use layout::{console_css, console_js, plain as layout_plain};
pub use lead::{latest_report, lead_page};
pub use names::ConsoleContext;
pub use queue_view::{ConsoleQuery, queue_page};
