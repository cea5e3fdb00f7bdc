//! Knowledge base walk: categories -> folders -> subfolders -> articles (Freshdesk has no
//! "all articles" endpoint), plus translations via the `/{lang}` variants.
//!
//! Articles come back without a URL and without a visibility (both belong elsewhere: the portal
//! and the folder), so the walk fills them in: the portal link from `[freshdesk] portal_url`, and
//! the folder's `visibility`, which decides whether a reply to a customer may link the article.

use std::collections::{HashSet, VecDeque};

use serde::Deserialize;

use super::reader::FreshdeskReader;
use crate::domain::Article;
use crate::helpdesk::HelpdeskError;

#[derive(Debug, Clone, Deserialize)]
pub struct SolutionCategory {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SolutionFolder {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub category_id: Option<i64>,
    #[serde(default)]
    pub parent_folder_id: Option<i64>,
    #[serde(default)]
    pub articles_count: Option<u64>,
    #[serde(default)]
    pub sub_folders_count: Option<u64>,
    /// 1 all users, 2 logged-in users, 3 agents, 4 selected companies, 5 bots, 6/7 segments.
    #[serde(default)]
    pub visibility: Option<i64>,
}

/// A language code as a path segment: letters, digits and `-` only (e.g. `pt-BR`).
fn valid_language(lang: &str) -> bool {
    !lang.is_empty()
        && lang.len() <= 16
        && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl FreshdeskReader {
    pub async fn solution_categories(&self) -> Result<Vec<SolutionCategory>, HelpdeskError> {
        let mut url = self.inner.url(&["solutions", "categories"]);
        url.query_pairs_mut()
            .append_pair("per_page", &self.inner.config.per_page.to_string());
        self.inner.get_all("GET /solutions/categories", url).await
    }

    /// Every folder, nested ones included (breadth first).
    pub async fn solution_folders(&self) -> Result<Vec<SolutionFolder>, HelpdeskError> {
        let per_page = self.inner.config.per_page.to_string();
        let mut queue: VecDeque<SolutionFolder> = VecDeque::new();
        for category in self.solution_categories().await? {
            let mut url = self.inner.url(&[
                "solutions",
                "categories",
                &category.id.to_string(),
                "folders",
            ]);
            url.query_pairs_mut().append_pair("per_page", &per_page);
            let folders: Vec<SolutionFolder> = self
                .inner
                .get_all("GET /solutions/categories/{id}/folders", url)
                .await?;
            queue.extend(folders.into_iter().map(|mut f| {
                f.category_id = f.category_id.or(Some(category.id));
                f
            }));
        }
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        while let Some(folder) = queue.pop_front() {
            if !seen.insert(folder.id) {
                continue;
            }
            // Skip the call when the folder says it has no subfolders (saves a credit per folder).
            if folder.sub_folders_count != Some(0) {
                let mut url =
                    self.inner
                        .url(&["solutions", "folders", &folder.id.to_string(), "subfolders"]);
                url.query_pairs_mut().append_pair("per_page", &per_page);
                match self
                    .inner
                    .get_all::<SolutionFolder>("GET /solutions/folders/{id}/subfolders", url)
                    .await
                {
                    Ok(children) => queue.extend(children.into_iter().map(|mut child| {
                        child.category_id = child.category_id.or(folder.category_id);
                        child.parent_folder_id = child.parent_folder_id.or(Some(folder.id));
                        child
                    })),
                    // Accounts without the flexible hierarchy have no subfolder endpoint.
                    Err(HelpdeskError::NotFound(_)) => {}
                    Err(other) => return Err(other),
                }
            }
            all.push(folder);
        }
        Ok(all)
    }

    /// Articles in the account's primary language (`lang = None`) or in one translation.
    pub(crate) async fn walk_articles(
        &self,
        lang: Option<&str>,
    ) -> Result<Vec<Article>, HelpdeskError> {
        if let Some(lang) = lang
            && !valid_language(lang)
        {
            return Err(HelpdeskError::Permanent(format!(
                "invalid language code {lang:?}"
            )));
        }
        let per_page = self.inner.config.per_page.to_string();
        let mut seen = HashSet::new();
        let mut articles = Vec::new();
        for folder in self.solution_folders().await? {
            if folder.articles_count == Some(0) {
                continue;
            }
            let id = folder.id.to_string();
            let mut segments = vec!["solutions", "folders", id.as_str(), "articles"];
            segments.extend(lang);
            let mut url = self.inner.url(&segments);
            url.query_pairs_mut().append_pair("per_page", &per_page);
            let endpoint = if lang.is_some() {
                "GET /solutions/folders/{id}/articles/{lang}"
            } else {
                "GET /solutions/folders/{id}/articles"
            };
            let page: Vec<Article> = match self.inner.get_all(endpoint, url).await {
                Ok(page) => page,
                // No translation of this folder in that language.
                Err(HelpdeskError::NotFound(_)) if lang.is_some() => continue,
                Err(other) => return Err(other),
            };
            for mut article in page {
                if seen.insert(article.id) {
                    article.folder_id = article.folder_id.or(Some(folder.id));
                    article.category_id = article.category_id.or(folder.category_id);
                    article.folder_visibility = article.folder_visibility.or(folder.visibility);
                    if article.url.is_none() {
                        article.url =
                            Some(self.inner.config.article_url(article.id, &article.title));
                    }
                    articles.push(article);
                }
            }
        }
        Ok(articles)
    }

    /// Articles translated into `lang` (same ids as the originals). Needs the Multilingual feature;
    /// folders without a translation are skipped.
    pub async fn article_translations(&self, lang: &str) -> Result<Vec<Article>, HelpdeskError> {
        self.walk_articles(Some(lang)).await
    }

    /// Translations for every language in `FreshdeskConfig::article_languages`.
    pub async fn configured_translations(
        &self,
    ) -> Result<Vec<(String, Vec<Article>)>, HelpdeskError> {
        let mut out = Vec::new();
        for lang in self.inner.config.article_languages.clone() {
            let articles = self.article_translations(&lang).await?;
            out.push((lang, articles));
        }
        Ok(out)
    }
}
