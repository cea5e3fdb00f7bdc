//! Tests of the module next to this file.

use super::*;

#[test]
fn defaults_are_valid() {
    Config::default().validate().unwrap();
}

#[test]
fn file_then_environment_override_defaults() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "custom.toml",
            "[retrieval]\nmax_cases = 9\nmax_articles = 2\n",
        )?;
        jail.set_env("DESKDRAFT_RETRIEVAL__MAX_ARTICLES", "7");
        let config = Config::load(Some(Path::new("custom.toml"))).expect("loads");
        assert_eq!(config.retrieval.max_cases, 9);
        assert_eq!(config.retrieval.max_articles, 7);
        assert_eq!(config.retrieval.prefetch_limit, 64);
        Ok(())
    });
}

#[test]
fn an_unknown_key_is_named_in_the_error() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("bad.toml", "[retrieval]\nmax_casez = 9\n")?;
        let error = Config::load(Some(Path::new("bad.toml")))
            .unwrap_err()
            .to_string();
        assert!(error.contains("max_casez"), "{error}");
        Ok(())
    });
}

#[test]
fn an_out_of_range_value_names_the_field() {
    let mut config = Config::default();
    config.chunking.max_tokens = 600;
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("chunking.max_tokens"), "{error}");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let error = Config::load(Some(Path::new("/nonexistent/deskdraft.toml"))).unwrap_err();
    assert!(matches!(error, ConfigError::MissingFile(_)));
}
