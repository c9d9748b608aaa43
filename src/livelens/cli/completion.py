import click


@click.command()
def completion(): pass
