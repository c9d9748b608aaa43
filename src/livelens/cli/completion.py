"""Shell completion for bash and zsh: ``eval "$(livelens completion bash)"``.

The scripts call ``livelens completion --complete`` with the line being edited
(``COMP_LINE`` / ``COMP_POINT``, as bash's ``complete -C`` protocol). Words
after ``connect``, ``connect-contact-lens`` or ``connectparticipant`` are
completed by awscli's own completer over livelens' driver (operations and
their options, including ``--follow``, ``--max-items``...); the rest from the
click commands.
"""

from __future__ import annotations

import os
import sys

import click

from livelens.cli.awsdriver import SERVICES

BASH = r"""# livelens bash completion. Add to ~/.bashrc:  eval "$(livelens completion bash)"
_livelens_complete() {
    local IFS=$'\n'
    COMPREPLY=( $(COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" livelens completion --complete 2>/dev/null) )
}
complete -o default -F _livelens_complete livelens
"""

ZSH = r"""#compdef livelens
# livelens zsh completion. Add to ~/.zshrc:  eval "$(livelens completion zsh)"
_livelens() {
    local line="${(j: :)words[1,CURRENT]}"
    local -a candidates
    candidates=( ${(f)"$(COMP_LINE="$line" COMP_POINT="${#line}" livelens completion --complete 2>/dev/null)"} )
    compadd -- $candidates
}
if (( $+functions[compdef] )); then
    compdef _livelens livelens
fi
"""


def complete(line: str, point: int | None = None) -> list[str]:
    """Candidates for the last word of ``line`` (up to ``point``)."""
    from livelens.cli.main import main as group

    if point is None:
        point = len(line)
    text = line[:point]
    words = text.split()
    if text.endswith(" ") or not words:
        words.append("")
    current = words[-1]
    if len(words) <= 2:
        return sorted(name for name in group.commands if name.startswith(current))
    command = words[1]
    if command in SERVICES:
        from awscli.completer import Completer

        from livelens.cli.awsdriver import create_driver

        completer = Completer(create_driver())
        # awscli's completer completes the word under the cursor; on a blank one it lists what may follow.
        candidates = completer.complete(text.rstrip() if current == "" else text)
        if current == "" and words[-2].startswith("-"):
            return []
        return sorted(set(candidates))
    click_command = group.commands.get(command)
    if click_command is None:
        return []
    if current.startswith("-") or current == "":
        options = [opt for param in click_command.params for opt in getattr(param, "opts", [])
                   if opt.startswith("--")]
        return sorted(opt for opt in options if opt.startswith(current) and opt not in words[:-1])
    return []


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh"]), required=False)
@click.option("--complete", "do_complete", is_flag=True, hidden=True,
              help="Print candidates for COMP_LINE/COMP_POINT (used by the scripts).")
def completion(shell: str | None, do_complete: bool) -> None:
    """Print the shell completion script for bash or zsh.

    \b
    bash:  eval "$(livelens completion bash)"   (or save it to /etc/bash_completion.d/livelens)
    zsh:   eval "$(livelens completion zsh)"    (after compinit)
    """
    if do_complete:
        line = os.environ.get("COMP_LINE", "")
        try:
            point = int(os.environ.get("COMP_POINT", len(line)))
        except ValueError:
            point = len(line)
        for candidate in complete(line, point):
            click.echo(candidate)
        return
    if shell is None:
        raise click.UsageError("choose a shell: livelens completion bash|zsh")
    sys.stdout.write(BASH if shell == "bash" else ZSH)
