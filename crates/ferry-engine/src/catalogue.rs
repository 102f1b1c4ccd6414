//! The provider catalogue: the one place in the engine that names a provider crate. Each
//! provider Ferry knows is an entry here.

use ferry_provider::ProviderEntry;

static CATALOGUE: [&ProviderEntry; 1] = [&ferry_notion::PROVIDER];

/// Every provider Ferry knows.
pub fn catalogue() -> &'static [&'static ProviderEntry] {
    &CATALOGUE
}

pub fn entry(name: &str) -> Option<&'static ProviderEntry> {
    CATALOGUE.iter().copied().find(|p| p.name == name)
}
