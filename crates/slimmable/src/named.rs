//! Settings chosen by name (the command line's environment variables): the one of a list whose
//! name matches, or an error that lists the accepted names.

/// The member of `all` whose `name_of` is `name` (trimmed, any case); the error names the
/// setting (`what`), the name given and the accepted ones.
pub(crate) fn by_name<T: Copy>(all: &[T], name_of: impl Fn(T) -> &'static str, what: &str, name: &str) -> Result<T, String> {
    let name = name.trim();
    all.iter().copied().find(|&member| name_of(member).eq_ignore_ascii_case(name)).ok_or_else(|| {
        let accepted: Vec<&str> = all.iter().map(|&member| name_of(member)).collect();
        format!("unknown {what} \"{name}\"; accepted: {}", accepted.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_found_in_any_case_and_an_unknown_one_lists_the_accepted() {
        let name_of = |n: u8| ["one", "two"][n as usize];
        assert_eq!(by_name(&[0, 1], name_of, "count", " TWO "), Ok(1));
        assert_eq!(by_name(&[0, 1], name_of, "count", "three"), Err("unknown count \"three\"; accepted: one, two".to_string()));
    }
}
