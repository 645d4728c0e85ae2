//! Text to [`ast`](crate::ast), with pest.

use crate::ast::{Activation, Argument, Item, Layer, Setting, TextRange, Value, Word};
use crate::diag::{Diagnostic, one_of};
use pest::Parser as _;
use pest::iterators::Pair;

#[derive(pest_derive::Parser)]
#[grammar = "network.pest"]
struct NetworkParser;

/// Parses one declaration whose outer attributes have been split off (the macro's input).
///
/// # Errors
///
/// A syntax error, located on the first token pest could not accept.
pub fn parse_item(text: &str) -> Result<Item, Vec<Diagnostic>> {
    let pairs =
        NetworkParser::parse(Rule::single_item, text).map_err(|e| vec![syntax(text, &e)])?;
    // `single_item` holds exactly one `item`; the `else` is unreachable but costs no panic.
    let item = pairs
        .flat_map(Pair::into_inner)
        .find(|p| p.as_rule() == Rule::item);
    item.map(build_item).ok_or_else(|| {
        vec![Diagnostic::new(
            TextRange::new(0, text.len()),
            "expected a declaration such as `struct Net = 2 -> 1`",
        )]
    })
}

/// Parses a `.nn` file: any number of declarations.
///
/// # Errors
///
/// A syntax error, located on the first token pest could not accept.
pub fn parse_file(text: &str) -> Result<Vec<Item>, Vec<Diagnostic>> {
    let pairs = NetworkParser::parse(Rule::file, text).map_err(|e| vec![syntax(text, &e)])?;
    Ok(pairs
        .flat_map(Pair::into_inner)
        .filter(|p| p.as_rule() == Rule::item)
        .map(build_item)
        .collect())
}

fn range(pair: &Pair<'_, Rule>) -> TextRange {
    let span = pair.as_span();
    // The span of a rule that ends in an absent optional part, such as `pub` or `-> 10`, takes
    // in the spaces and comments pest skipped looking for it: end at the last inner token.
    let end = pair
        .clone()
        .into_inner()
        .last()
        .map_or(span.end(), |last| range(&last).end);
    TextRange::new(span.start(), end)
}

fn word(pair: &Pair<'_, Rule>) -> Word {
    Word {
        text: pair.as_str().to_owned(),
        range: range(pair),
    }
}

/// A layer's name, its segments joined by `.` without the spaces the macro's rendering puts
/// around them.
fn layer_name(pair: &Pair<'_, Rule>) -> Word {
    let segments: Vec<&str> = pair
        .clone()
        .into_inner()
        .filter(|p| matches!(p.as_rule(), Rule::name | Rule::name_segment))
        .map(|p| p.as_str())
        .collect();
    Word {
        text: segments.join("."),
        range: range(pair),
    }
}

fn build_item(item: Pair<'_, Rule>) -> Item {
    let whole = range(&item);
    let mut docs = Vec::new();
    let mut visibility = None;
    let mut name = None;
    let mut chain = None;
    let mut settings = Vec::new();
    for part in item.into_inner() {
        match part.as_rule() {
            Rule::doc => docs.push(
                part.into_inner()
                    .next()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            Rule::visibility => {
                // `pub ( crate )` (as the macro renders tokens) reads as `pub(crate)`, without
                // whatever spaces or comments stand between the tokens.
                let scope = part
                    .clone()
                    .into_inner()
                    .find(|p| p.as_rule() == Rule::vis_scope);
                let text =
                    scope.map_or_else(|| "pub".to_owned(), |s| format!("pub({})", s.as_str()));
                visibility = Some(Word {
                    text,
                    range: range(&part),
                });
            }
            Rule::name => name = Some(word(&part)),
            Rule::chain => chain = Some(part),
            Rule::options => {
                settings = part
                    .into_inner()
                    .filter(|p| p.as_rule() == Rule::setting)
                    .map(build_setting)
                    .collect();
            }
            _ => {}
        }
    }
    let mut chain = chain.expect("the grammar requires a chain").into_inner();
    let first = chain
        .next()
        .expect("a chain starts with a width or a shape");
    let (input, input_shape) = if first.as_rule() == Rule::shape {
        let sizes: Vec<Word> = first
            .clone()
            .into_inner()
            .filter(|p| p.as_rule() == Rule::width)
            .map(|p| word(&p))
            .collect();
        let text: Vec<&str> = sizes.iter().map(|w| w.text.as_str()).collect();
        let input = Word {
            text: format!("[{}]", text.join(", ")),
            range: range(&first),
        };
        (input, Some(sizes))
    } else {
        (word(&first), None)
    };
    let mut input_activation = None;
    let mut layers = Vec::new();
    for part in chain {
        match part.as_rule() {
            Rule::activation => input_activation = Some(build_activation(part)),
            Rule::layer => layers.push(build_layer(part)),
            _ => {}
        }
    }
    Item {
        docs,
        visibility,
        name: name.expect("the grammar requires a name"),
        input,
        input_shape,
        input_activation,
        layers,
        settings,
        range: whole,
    }
}

fn build_layer(layer: Pair<'_, Rule>) -> Layer {
    let whole = range(&layer);
    let mut arrow = whole;
    let mut width = None;
    let mut arguments = None;
    let mut activation = None;
    let mut name = None;
    for part in layer.into_inner() {
        match part.as_rule() {
            Rule::arrow => arrow = range(&part),
            Rule::width | Rule::kind_name => width = Some(word(&part)),
            Rule::kind_arguments => {
                arguments = Some(
                    part.into_inner()
                        .filter(|p| p.as_rule() == Rule::kind_argument)
                        .map(build_argument)
                        .collect(),
                );
            }
            Rule::activation => activation = Some(build_activation(part)),
            Rule::layer_name => name = Some(layer_name(&part)),
            _ => {}
        }
    }
    Layer {
        arrow,
        width: width.expect("the grammar requires a width or a kind"),
        arguments,
        activation,
        name,
        range: whole,
    }
}

/// `- 0.5` (as the macro renders tokens) as `-0.5`.
fn number(pair: &Pair<'_, Rule>) -> Word {
    let mut text = String::new();
    for token in pair.clone().into_inner() {
        text.push_str(token.as_str());
    }
    Word {
        text,
        range: range(pair),
    }
}

fn build_argument(argument: Pair<'_, Rule>) -> Argument {
    let whole = range(&argument);
    let mut name = None;
    let mut value = None;
    for part in argument.into_inner() {
        match part.as_rule() {
            Rule::name => name = Some(word(&part)),
            Rule::argument => value = Some(Value::Number(number(&part))),
            Rule::symbol => value = Some(Value::Symbol(word(&part))),
            Rule::tuple => {
                let numbers = part
                    .clone()
                    .into_inner()
                    .filter(|p| p.as_rule() == Rule::argument)
                    .map(|p| number(&p))
                    .collect();
                value = Some(Value::Tuple(numbers, range(&part)));
            }
            _ => {}
        }
    }
    Argument {
        name,
        value: value.expect("the grammar requires a value"),
        range: whole,
    }
}

fn build_activation(activation: Pair<'_, Rule>) -> Activation {
    let whole = range(&activation);
    let mut name = None;
    let mut arguments = None;
    for part in activation.into_inner() {
        match part.as_rule() {
            Rule::activation_name => name = Some(word(&part)),
            Rule::open_paren => arguments = Some(Vec::new()),
            Rule::argument => {
                // `- 0.1` (as the macro renders tokens) reads as `-0.1`.
                let mut text = String::new();
                for token in part.clone().into_inner() {
                    text.push_str(token.as_str());
                }
                arguments.get_or_insert_with(Vec::new).push(Word {
                    text,
                    range: range(&part),
                });
            }
            _ => {}
        }
    }
    Activation {
        name: name.expect("the grammar requires an activation name"),
        arguments,
        range: whole,
    }
}

fn build_setting(setting: Pair<'_, Rule>) -> Setting {
    let whole = range(&setting);
    let mut parts = setting.into_inner();
    let key = word(&parts.next().expect("a setting starts with its name"));
    let value = parts
        .find(|p| p.as_rule() == Rule::value)
        .expect("a setting has a value");
    let text = match value.clone().into_inner().next() {
        // `:: my :: path` (as the macro renders tokens) reads as `::my::path`.
        Some(path) if path.as_rule() == Rule::path => {
            let idents: Vec<&str> = path.clone().into_inner().map(|i| i.as_str()).collect();
            let root = if path.as_str().starts_with("::") {
                "::"
            } else {
                ""
            };
            format!("{root}{}", idents.join("::"))
        }
        // A string keeps its spaces: they belong to a file name.
        _ => value.as_str().to_owned(),
    };
    Setting {
        key,
        value: Word {
            text,
            range: range(&value),
        },
        range: whole,
    }
}

/// What a user calls the thing a rule matches.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::width => "a layer width such as `128`",
        Rule::shape | Rule::open_bracket => "an input shape such as `[1, 28, 28]`",
        Rule::close_bracket => "`]`",
        Rule::kind_argument | Rule::tuple | Rule::symbol => {
            "an argument such as `3`, `(3, 5)` or `stride = 2`"
        }
        Rule::number | Rule::minus | Rule::argument => "a number",
        Rule::arrow => "`->`",
        Rule::activation | Rule::activation_name => "an activation such as `relu`",
        Rule::kw_as => "`as`",
        Rule::kw_with => "`with`",
        Rule::kw_struct => "`struct`",
        Rule::kw_pub | Rule::visibility => "`pub`",
        Rule::vis_scope => "`crate`, `super` or `self`",
        Rule::name | Rule::ident | Rule::layer_name => "a name",
        Rule::name_segment => "a name or a number, such as `0` in `encoder.0`",
        Rule::dot => "`.`",
        Rule::equals => "`=`",
        Rule::semicolon => "`;`",
        Rule::open_paren => "`(`",
        Rule::close_paren => "`)`",
        Rule::setting => "an option such as `scalar = f64`",
        Rule::value | Rule::string | Rule::path => "an option value",
        Rule::doc => "a doc comment",
        Rule::item => "a declaration such as `struct Net = 2 -> 1`",
        Rule::EOI => "the end of the input",
        _ => return None,
    })
}

/// The token at `offset`, for "found ..." in messages.
fn token_at(text: &str, offset: usize) -> (TextRange, String) {
    let rest = &text[offset.min(text.len())..];
    let Some(first) = rest.chars().next() else {
        // Name the last token, and point just after it as rustc does, not at trailing space.
        let end = text.trim_end().len();
        let found = match text.split_whitespace().next_back() {
            Some(last) => format!("end of input after `{last}`"),
            None => "end of input".to_owned(),
        };
        return (TextRange::new(end, end), found);
    };
    if first.is_whitespace() {
        return (
            TextRange::new(offset, offset + first.len_utf8()),
            "whitespace".to_owned(),
        );
    }
    let len = if first.is_ascii_alphanumeric() || first == '_' {
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len())
    } else if rest.starts_with("///") {
        3
    } else if ["->", "::", "//", "/*"].iter().any(|t| rest.starts_with(t)) {
        2
    } else {
        first.len_utf8()
    };
    (
        TextRange::new(offset, offset + len),
        format!("`{}`", &rest[..len]),
    )
}

fn syntax(text: &str, error: &pest::error::Error<Rule>) -> Diagnostic {
    let offset = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let (range, found) = token_at(text, offset);
    // pest sees an unclosed `/*` as a stray `/`: say what is really wrong.
    if text[range.start..].starts_with("/*") && !text[range.end..].contains("*/") {
        return Diagnostic::new(
            range,
            "unclosed block comment: expected `*/` before the end of the input, found none",
        );
    }
    let mut expected: Vec<&str> = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(|r| describe(*r)).collect()
        }
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    expected.dedup();
    let mut unique = Vec::new();
    for e in expected {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    let mut message = if unique.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", one_of(&unique))
    };
    // `network!` passes a declaration's attributes through before the grammar sees it: a `#[`
    // here is one in a `.nn` file.
    if unique.contains(&describe(Rule::doc).unwrap_or_default())
        && text[range.start..].starts_with("#[")
    {
        message.push_str(
            ": attributes such as `#[derive(Clone)]` are written in `network!` only, not in `.nn` \
             files (implement the trait beside the generated struct instead)",
        );
    }
    Diagnostic::new(range, message)
}
