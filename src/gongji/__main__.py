from gongji.cli import app

app(prog_name="gongji")
