"""The condition language of a rule's ``Function``.

Grammar (keywords are case-insensitive; strings take double or single quotes,
with backslash escapes)::

    function   = expr EOF
    expr       = term { "or" term }
    term       = factor { "and" factor }
    factor     = "not" factor | "(" expr ")" | condition
    condition  = [speaker] said | [speaker] sentiment | [speaker] means | attribute
    speaker    = "customer" | "agent" | "anyone"
    said       = ( "said" | "says" ) [quantifier] phrases [window]
               | ( "never" "said" | "did" "not" "say" ) [quantifier] phrases [window]
    quantifier = "any" | "all" | "none"
    phrases    = STRING | "(" STRING { "," STRING } ")"
    sentiment  = "sentiment" [ "is" ] LEVEL [ "for" INT [ "consecutive" ] "turns" ] [window]
               | "sentiment" "from" LEVEL "to" LEVEL [window]
    means      = "means" phrases [ "threshold" NUMBER ] [window]
    attribute  = "attribute" STRING ( "=" | "==" | "!=" ) STRING
    window     = ( "in" | "within" ) ( "first" | "last" ) INT ( "seconds" | "turns" )
    LEVEL      = "POSITIVE" | "NEGATIVE" | "NEUTRAL"

``never said X`` and ``said none X`` mean ``not said any X``. A syntax error
is a :class:`RuleSyntaxError` that names the offending position and shows
it under the source. See docs/rules.md for the semantics and examples.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Literal, TypeVar, Union

from livelens.rules.text import phrase_stems

Speaker = Literal["CUSTOMER", "AGENT", "ANYONE"]
LEVELS = ("POSITIVE", "NEGATIVE", "NEUTRAL")
MAX_LEAVES = 50
MAX_PHRASES = 100
MAX_PHRASE_CHARS = 500
MAX_SOURCE_CHARS = 10_000


class RuleSyntaxError(ValueError):
    def __init__(self, message: str, position: int, source: str) -> None:
        self.message = message
        self.position = position
        self.source = source
        line = source.count("\n", 0, position) + 1
        column = position - (source.rfind("\n", 0, position) + 1) + 1
        self.line, self.column = line, column
        super().__init__(str(self))

    def __str__(self) -> str:
        start = self.source.rfind("\n", 0, self.position) + 1
        end = self.source.find("\n", self.position)
        text = self.source[start : end if end >= 0 else len(self.source)]
        # Keep the excerpt short around the position.
        offset = self.position - start
        if len(text) > 80:
            left = max(0, offset - 40)
            text, offset = ("…" if left else "") + text[left : left + 80], offset - left + (1 if left else 0)
        return (
            f"{self.message} at position {self.position} (line {self.line}, column {self.column})\n"
            f"  {text}\n  {' ' * offset}^"
        )


# --- the AST -----------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    edge: Literal["first", "last"]
    amount: int
    unit: Literal["seconds", "turns"]

    def __str__(self) -> str:
        return f"in {self.edge} {self.amount} {self.unit}"


@dataclass(frozen=True)
class Leaf:
    """A condition; ``index`` numbers the leaves of a rule (their state slot)."""

    span: tuple[int, int]
    index: int = field(default=-1, compare=False)


@dataclass(frozen=True)
class Said(Leaf):
    speaker: Speaker = "ANYONE"
    quantifier: Literal["any", "all"] = "any"
    phrases: tuple[str, ...] = ()
    stems: tuple[tuple[str, ...], ...] = ()
    window: Window | None = None


@dataclass(frozen=True)
class SentimentRun(Leaf):
    speaker: Speaker = "ANYONE"
    level: str = "NEGATIVE"
    count: int = 1
    window: Window | None = None


@dataclass(frozen=True)
class SentimentChange(Leaf):
    speaker: Speaker = "ANYONE"
    before: str = "NEGATIVE"
    after: str = "POSITIVE"
    window: Window | None = None


@dataclass(frozen=True)
class Means(Leaf):
    speaker: Speaker = "ANYONE"
    phrases: tuple[str, ...] = ()
    threshold: float = 0.5
    window: Window | None = None


@dataclass(frozen=True)
class Attribute(Leaf):
    key: str = ""
    value: str = ""
    equal: bool = True


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = Union[Said, SentimentRun, SentimentChange, Means, Attribute, Not, And, Or]  # noqa: UP007
L = TypeVar("L", bound=Leaf)
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Function:
    """A parsed ``Function``: its tree, its leaves in order and its source."""

    source: str
    root: Node
    leaves: tuple[Leaf, ...]

    def text_of(self, leaf: Leaf) -> str:
        return self.source[leaf.span[0] : leaf.span[1]]

    @property
    def uses_seconds(self) -> bool:
        return any(
            getattr(leaf, "window", None) is not None and leaf.window.unit == "seconds"  # type: ignore[attr-defined]
            for leaf in self.leaves
        )

    @functools.cached_property
    def semantic(self) -> tuple[Means, ...]:
        return tuple(leaf for leaf in self.leaves if isinstance(leaf, Means))


# --- tokens ------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>\d+(?:\.\d+)?|\.\d+)
      | (?P<word>[A-Za-z_][A-Za-z_0-9]*)
      | (?P<punct>==|!=|[(),=])
    """,
    re.VERBOSE,
)
_UNTERMINATED = re.compile(r"""["']""")


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, word, punct, end
    text: str
    position: int
    value: str = ""

    @property
    def keyword(self) -> str:
        return self.text.lower() if self.kind == "word" else ""

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the function"
        return repr(self.text) if len(self.text) <= 30 else repr(self.text[:27] + "...")


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        found = _TOKEN.match(source, position)
        if found is None:
            char = source[position]
            if _UNTERMINATED.match(char):
                raise RuleSyntaxError("unterminated string (a closing quote is missing)", position, source)
            raise RuleSyntaxError(f"unexpected character {char!r}", position, source)
        kind = found.lastgroup or ""
        text = found.group()
        if kind == "string":
            body = text[1:-1]
            value = re.sub(r"\\(.)", r"\1", body)
            tokens.append(Token(kind, text, position, value))
        elif kind != "space":
            tokens.append(Token(kind, text, position, text))
        position = found.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


# --- the parser --------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0
        self.leaves: list[Leaf] = []

    # helpers
    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def error(self, expected: str, token: Token | None = None) -> RuleSyntaxError:
        token = token or self.token
        return RuleSyntaxError(f"expected {expected}, found {token.describe()}", token.position, self.source)

    def accept(self, *keywords: str) -> Token | None:
        if self.token.keyword in keywords or (self.token.kind == "punct" and self.token.text in keywords):
            token = self.token
            self.i += 1
            return token
        return None

    def expect(self, expected: str, *keywords: str) -> Token:
        token = self.accept(*keywords)
        if token is None:
            raise self.error(expected)
        return token

    def integer(self, what: str, low: int, high: int) -> int:
        token = self.token
        if token.kind != "number" or "." in token.text:
            raise self.error(f"a whole number ({what})")
        value = int(token.text)
        if not low <= value <= high:
            raise RuleSyntaxError(f"{what} must be between {low} and {high}, got {value}", token.position, self.source)
        self.i += 1
        return value

    def end_of_previous(self) -> int:
        previous = self.tokens[self.i - 1]
        return previous.position + len(previous.text)

    # grammar
    def function(self) -> Function:
        if self.token.kind == "end":
            raise self.error("a condition")
        root = self.expr()
        if self.token.kind != "end":
            raise self.error("'and', 'or' or the end of the function")
        if len(self.leaves) > MAX_LEAVES:
            raise RuleSyntaxError(f"a function may have at most {MAX_LEAVES} conditions", 0, self.source)
        return Function(self.source, root, tuple(self.leaves))

    def expr(self) -> Node:
        children = [self.term()]
        while self.accept("or"):
            children.append(self.term())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def term(self) -> Node:
        children = [self.factor()]
        while self.accept("and"):
            children.append(self.factor())
        return children[0] if len(children) == 1 else And(tuple(children))

    def factor(self) -> Node:
        if self.accept("not"):
            return Not(self.factor())
        if self.accept("("):
            node = self.expr()
            self.expect("')'", ")")
            return node
        return self.condition()

    def condition(self) -> Node:
        start = self.token.position
        if self.accept("attribute"):
            return self.attribute(start)
        speaker: Speaker = "ANYONE"
        word = self.accept("customer", "agent", "anyone")
        if word is not None:
            speaker = word.keyword.upper()  # type: ignore[assignment]
        if self.accept("said", "says"):
            return self.said(start, speaker, negated=False)
        if self.accept("never"):
            self.expect("'said' after 'never'", "said", "say", "says")
            return self.said(start, speaker, negated=True)
        if self.accept("did"):
            self.expect("'not' after 'did'", "not")
            self.expect("'say' after 'did not'", "say")
            return self.said(start, speaker, negated=True)
        if self.accept("sentiment"):
            return self.sentiment(start, speaker)
        if self.accept("means"):
            return self.means(start, speaker)
        if word is None:
            raise self.error(
                "a condition ('customer', 'agent', 'anyone', 'said', 'never said', 'sentiment', "
                "'means', 'attribute', 'not' or '(')"
            )
        raise self.error("'said', 'never said', 'did not say', 'sentiment' or 'means'")

    def phrases(self) -> tuple[str, ...]:
        if self.token.kind == "string":
            return (self.string("a phrase"),)
        if not self.accept("("):
            raise self.error("a quoted phrase or a parenthesised list of phrases")
        phrases = [self.string("a quoted phrase")]
        while self.accept(","):
            phrases.append(self.string("a quoted phrase"))
        self.expect("',' or ')'", ")")
        if len(phrases) > MAX_PHRASES:
            raise RuleSyntaxError(f"at most {MAX_PHRASES} phrases per condition", self.end_of_previous(), self.source)
        return tuple(phrases)

    def string(self, expected: str) -> str:
        token = self.token
        if token.kind != "string":
            raise self.error(expected)
        if not phrase_stems(token.value) and expected != "a value":
            raise RuleSyntaxError("a phrase must contain at least one word", token.position, self.source)
        if len(token.value) > MAX_PHRASE_CHARS:
            raise RuleSyntaxError(
                f"a phrase may have at most {MAX_PHRASE_CHARS} characters", token.position, self.source
            )
        self.i += 1
        return token.value

    def window(self) -> Window | None:
        if not self.accept("in", "within"):
            return None
        edge = self.expect("'first' or 'last'", "first", "last").keyword
        amount = self.integer("the window size", 1, 1_000_000)
        unit = self.expect("'seconds' or 'turns'", "seconds", "second", "secs", "sec", "s", "turns", "turn").keyword
        return Window(edge, amount, "turns" if unit.startswith("turn") else "seconds")  # type: ignore[arg-type]

    def level(self) -> str:
        token = self.expect("a sentiment (POSITIVE, NEGATIVE or NEUTRAL)", "positive", "negative", "neutral")
        return token.keyword.upper()

    def leaf(self, node: L) -> L:
        numbered = type(node)(**{**node.__dict__, "index": len(self.leaves)})
        self.leaves.append(numbered)
        return numbered

    def said(self, start: int, speaker: Speaker, *, negated: bool) -> Node:
        quantifier = "any"
        word = self.accept("any", "all", "none")
        if word is not None:
            quantifier = word.keyword
        phrases = self.phrases()
        window = self.window()
        if quantifier == "none":
            if negated:
                raise RuleSyntaxError(
                    "'never said none' is a double negative; write 'said any'",
                    word.position,  # type: ignore[union-attr]
                    self.source,
                )
            quantifier, negated = "any", True
        node = self.leaf(
            Said(
                (start, self.end_of_previous()),
                speaker=speaker,
                quantifier=quantifier,  # type: ignore[arg-type]
                phrases=phrases,
                stems=tuple(phrase_stems(p) for p in phrases),
                window=window,
            )
        )
        return Not(node) if negated else node

    def sentiment(self, start: int, speaker: Speaker) -> Node:
        if self.accept("from"):
            before = self.level()
            self.expect("'to'", "to")
            after = self.level()
            if before == after:
                raise RuleSyntaxError(
                    "a sentiment change needs two different sentiments", self.tokens[self.i - 1].position, self.source
                )
            window = self.window()
            return self.leaf(
                SentimentChange(
                    (start, self.end_of_previous()),
                    speaker=speaker,
                    before=before,
                    after=after,
                    window=window,
                )
            )
        self.accept("is")
        level = self.level()
        count = 1
        if self.accept("for", "on"):
            count = self.integer("the number of turns", 1, 1000)
            self.accept("consecutive")
            self.expect("'turns'", "turns", "turn")
            if self.accept("in"):
                if self.token.keyword == "a":
                    self.i += 1
                    self.expect("'row'", "row")
                else:
                    self.i -= 1  # the "in" of a window
        window = self.window()
        return self.leaf(
            SentimentRun(
                (start, self.end_of_previous()),
                speaker=speaker,
                level=level,
                count=count,
                window=window,
            )
        )

    def means(self, start: int, speaker: Speaker) -> Node:
        phrases = self.phrases()
        threshold = DEFAULT_THRESHOLD
        if self.accept("threshold"):
            token = self.token
            if token.kind != "number":
                raise self.error("a threshold between 0 and 1")
            threshold = float(token.text)
            if not 0.0 < threshold <= 1.0:
                raise RuleSyntaxError(
                    f"the threshold must be above 0 and at most 1, got {token.text}", token.position, self.source
                )
            self.i += 1
        window = self.window()
        return self.leaf(
            Means(
                (start, self.end_of_previous()),
                speaker=speaker,
                phrases=phrases,
                threshold=threshold,
                window=window,
            )
        )

    def attribute(self, start: int) -> Node:
        key = self.string_value("the attribute name as a quoted string")
        operator = self.expect("'=' or '!='", "=", "==", "!=")
        value = self.string_value("the attribute value as a quoted string")
        return self.leaf(
            Attribute(
                (start, self.end_of_previous()),
                key=key,
                value=value,
                equal=operator.text != "!=",
            )
        )

    def string_value(self, expected: str) -> str:
        token = self.token
        if token.kind != "string":
            raise self.error(expected)
        self.i += 1
        return token.value


def parse(source: str) -> Function:
    """Parse a ``Function``; raises :class:`RuleSyntaxError` with the offending position."""
    if len(source) > MAX_SOURCE_CHARS:
        raise RuleSyntaxError(f"a function may have at most {MAX_SOURCE_CHARS} characters", MAX_SOURCE_CHARS, source)
    return _Parser(source).function()
