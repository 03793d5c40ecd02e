package migrate

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

type splitCase struct {
	name    string
	dialect string
	src     string
	want    []Statement
	noTx    bool
	wantErr string // exact error text; empty means no error
}

func wantStmt(line int, sql string) Statement { return Statement{SQL: sql, Line: line} }

var splitCases = []splitCase{
	// Basics.
	{
		name: "two statements", dialect: "pg",
		src:  "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n",
		want: []Statement{wantStmt(1, "CREATE TABLE a (id int)"), wantStmt(2, "CREATE TABLE b (id int)")},
	},
	{
		name: "final statement without semicolon", dialect: "sqlite",
		src:  "SELECT 1;\n\n  SELECT 2  \n",
		want: []Statement{wantStmt(1, "SELECT 1"), wantStmt(3, "SELECT 2")},
	},
	{
		name: "several statements on one line", dialect: "mysql",
		src:  "SELECT 1; SELECT 2;SELECT 3",
		want: []Statement{wantStmt(1, "SELECT 1"), wantStmt(1, "SELECT 2"), wantStmt(1, "SELECT 3")},
	},
	{
		name: "empty statements dropped", dialect: "pg",
		src:  ";;\n ; SELECT 1;;\n;\n",
		want: []Statement{wantStmt(2, "SELECT 1")},
	},
	{name: "empty file", dialect: "pg", src: ""},
	{name: "whitespace only", dialect: "mysql", src: " \n\t\r\n\n"},
	{
		name: "only comments", dialect: "pg",
		src: "-- up migration\n/* nothing\n   to do; really */\n-- ;\n",
	},
	{
		name: "only comments mysql hash", dialect: "mysql",
		src: "# nothing; here\n-- nor; here\n/* nor; here */",
	},
	{
		name: "multi-line statement, indented", dialect: "pg",
		src:  "\n\n  CREATE TABLE t (\n    id int,\n    name text\n  );\n",
		want: []Statement{wantStmt(3, "CREATE TABLE t (\n    id int,\n    name text\n  )")},
	},

	// Comments.
	{
		name: "leading comments are not part of the statement", dialect: "pg",
		src:  "-- header\n\n/* doc;\n */\n  SELECT 1;\n",
		want: []Statement{wantStmt(5, "SELECT 1")},
	},
	{
		name: "comments inside a statement are kept", dialect: "pg",
		src:  "SELECT 1, -- first; not the end\n  /* second; */ 2;\n",
		want: []Statement{wantStmt(1, "SELECT 1, -- first; not the end\n  /* second; */ 2")},
	},
	{
		name: "trailing comments are not part of the statement", dialect: "sqlite",
		src:  "SELECT 1 -- one\n;\nSELECT 2; -- two\n/* end */",
		want: []Statement{wantStmt(1, "SELECT 1"), wantStmt(3, "SELECT 2")},
	},
	{
		name: "comment between statements on one line", dialect: "pg",
		src:  "SELECT 1; /* x; */ SELECT 2;",
		want: []Statement{wantStmt(1, "SELECT 1"), wantStmt(1, "SELECT 2")},
	},
	{
		name: "nested block comment pg", dialect: "pg",
		src:  "SELECT /* a /* b; */ c; */ 1;\nSELECT 2;",
		want: []Statement{wantStmt(1, "SELECT /* a /* b; */ c; */ 1"), wantStmt(2, "SELECT 2")},
	},
	{
		name: "block comments do not nest in mysql", dialect: "mysql",
		src:  "SELECT /* a /* b; */ 1; SELECT 2;",
		want: []Statement{wantStmt(1, "SELECT /* a /* b; */ 1"), wantStmt(1, "SELECT 2")},
	},
	{
		name: "block comments do not nest in sqlite", dialect: "sqlite",
		src:  "SELECT /* a /* b; */ 1; SELECT 2;",
		want: []Statement{wantStmt(1, "SELECT /* a /* b; */ 1"), wantStmt(1, "SELECT 2")},
	},
	{
		name: "same input is an unterminated nested comment in pg", dialect: "pg",
		src:     "SELECT /* a /* b; */ 1; SELECT 2;",
		wantErr: "line 1: unterminated block comment",
	},
	{
		name: "block comment star slash edge cases", dialect: "pg",
		src:  "SELECT /**/ 1 /***/ /*/ ; */ ;",
		want: []Statement{wantStmt(1, "SELECT /**/ 1")},
	},
	{
		name: "mysql hash comment", dialect: "mysql",
		src:  "SELECT 1, # one; two\n2;",
		want: []Statement{wantStmt(1, "SELECT 1, # one; two\n2")},
	},
	{
		name: "hash is not a comment in pg", dialect: "pg",
		src:  "SELECT 1 # 2; SELECT 3;",
		want: []Statement{wantStmt(1, "SELECT 1 # 2"), wantStmt(1, "SELECT 3")},
	},
	{
		name: "mysql double dash needs whitespace", dialect: "mysql",
		src:  "SELECT 5--1;SELECT 2;--\tx;\nSELECT 3--",
		want: []Statement{wantStmt(1, "SELECT 5--1"), wantStmt(1, "SELECT 2"), wantStmt(2, "SELECT 3")},
	},
	{
		name: "double dash is always a comment in pg", dialect: "pg",
		src:  "SELECT 5--1;SELECT 2;\nSELECT 3;",
		want: []Statement{wantStmt(1, "SELECT 5--1;SELECT 2;\nSELECT 3")},
	},

	// Single-quoted strings.
	{
		name: "semicolon in string, doubled quote", dialect: "pg",
		src:  "INSERT INTO t VALUES ('a;b', 'it''s; ok');\nSELECT 2;",
		want: []Statement{wantStmt(1, "INSERT INTO t VALUES ('a;b', 'it''s; ok')"), wantStmt(2, "SELECT 2")},
	},
	{
		name: "pg plain string: backslash is literal", dialect: "pg",
		src:  `SELECT 'C:\';SELECT 2;`,
		want: []Statement{wantStmt(1, `SELECT 'C:\'`), wantStmt(1, "SELECT 2")},
	},
	{
		name: "pg E-string: backslash escapes quote", dialect: "pg",
		src:  `SELECT E'it\'s; fine', e'\\';SELECT 2;`,
		want: []Statement{wantStmt(1, `SELECT E'it\'s; fine', e'\\'`), wantStmt(1, "SELECT 2")},
	},
	{
		name: "pg E-string also accepts doubled quote", dialect: "pg",
		src:  `SELECT E'a''; b';`,
		want: []Statement{wantStmt(1, `SELECT E'a''; b'`)},
	},
	{
		name: "pg identifier ending in e before string is not an E-string", dialect: "pg",
		src:  `SELECT xe'\';SELECT 2;`,
		want: []Statement{wantStmt(1, `SELECT xe'\'`), wantStmt(1, "SELECT 2")},
	},
	{
		name: "pg E-string after operator", dialect: "pg",
		src:  `SELECT 'a'||E'\';';SELECT 2;`,
		want: []Statement{wantStmt(1, `SELECT 'a'||E'\';'`), wantStmt(1, "SELECT 2")},
	},
	{
		name: "sqlite: backslash is literal, E is not special", dialect: "sqlite",
		src:  `SELECT 'a\';SELECT E'\';SELECT 3;`,
		want: []Statement{wantStmt(1, `SELECT 'a\'`), wantStmt(1, `SELECT E'\'`), wantStmt(1, "SELECT 3")},
	},
	{
		name: "mysql backslash escapes", dialect: "mysql",
		src:  "INSERT INTO t VALUES ('it\\'s; ok', 'a\\\\', 'x''y;');\nSELECT 2;",
		want: []Statement{wantStmt(1, "INSERT INTO t VALUES ('it\\'s; ok', 'a\\\\', 'x''y;')"), wantStmt(2, "SELECT 2")},
	},
	{
		name: "mysql backslash escapes in double quotes", dialect: "mysql",
		src:  `SELECT "a\";b", "c"";d";SELECT 2;`,
		want: []Statement{wantStmt(1, `SELECT "a\";b", "c"";d"`), wantStmt(1, "SELECT 2")},
	},
	{
		name: "multi-line string keeps line numbers right", dialect: "sqlite",
		src:  "INSERT INTO t VALUES ('line1;\nline2;\nline3');\nSELECT 2;",
		want: []Statement{wantStmt(1, "INSERT INTO t VALUES ('line1;\nline2;\nline3')"), wantStmt(4, "SELECT 2")},
	},

	// Quoted identifiers.
	{
		name: "pg double-quoted identifiers", dialect: "pg",
		src:  `CREATE TABLE "a;b" ("x""y;" int);SELECT 2;`,
		want: []Statement{wantStmt(1, `CREATE TABLE "a;b" ("x""y;" int)`), wantStmt(1, "SELECT 2")},
	},
	{
		name: "pg double-quoted identifier: backslash is literal", dialect: "pg",
		src:  `SELECT "a\";SELECT 2;`,
		want: []Statement{wantStmt(1, `SELECT "a\"`), wantStmt(1, "SELECT 2")},
	},
	{
		name: "sqlite double-quoted identifiers", dialect: "sqlite",
		src:  `CREATE TABLE "a;b" ("x""y;" int);SELECT 2;`,
		want: []Statement{wantStmt(1, `CREATE TABLE "a;b" ("x""y;" int)`), wantStmt(1, "SELECT 2")},
	},
	{
		name: "mysql backticks", dialect: "mysql",
		src:  "CREATE TABLE `a;b` (`x``y;\\` int);SELECT 2;",
		want: []Statement{wantStmt(1, "CREATE TABLE `a;b` (`x``y;\\` int)"), wantStmt(1, "SELECT 2")},
	},
	{
		name: "sqlite backticks and brackets", dialect: "sqlite",
		src:  "CREATE TABLE [a;b] (`x``y;` int, [c'\"] int);SELECT 2;",
		want: []Statement{wantStmt(1, "CREATE TABLE [a;b] (`x``y;` int, [c'\"] int)"), wantStmt(1, "SELECT 2")},
	},
	{
		name: "brackets are not identifiers in pg", dialect: "pg",
		src:  "SELECT a[1;SELECT 2];",
		want: []Statement{wantStmt(1, "SELECT a[1"), wantStmt(1, "SELECT 2]")},
	},
	{
		name: "backticks are not identifiers in pg", dialect: "pg",
		src:  "SELECT `a;b`;",
		want: []Statement{wantStmt(1, "SELECT `a"), wantStmt(1, "b`")},
	},

	// Dollar quotes and parameters.
	{
		name: "pg dollar quote", dialect: "pg",
		src:  "CREATE FUNCTION f() RETURNS int AS $$\n  SELECT 1; -- ' \"\n$$ LANGUAGE sql;\nSELECT 2;",
		want: []Statement{wantStmt(1, "CREATE FUNCTION f() RETURNS int AS $$\n  SELECT 1; -- ' \"\n$$ LANGUAGE sql"), wantStmt(4, "SELECT 2")},
	},
	{
		name: "pg tagged dollar quote containing $$", dialect: "pg",
		src:  "DO $body$ BEGIN PERFORM $$x;$$; END $body$;\nSELECT 2;",
		want: []Statement{wantStmt(1, "DO $body$ BEGIN PERFORM $$x;$$; END $body$"), wantStmt(2, "SELECT 2")},
	},
	{
		name: "pg dollar tag with underscore and digits", dialect: "pg",
		src:  "SELECT $_f1$;$f1$;$_f1$;",
		want: []Statement{wantStmt(1, "SELECT $_f1$;$f1$;$_f1$")},
	},
	{
		name: "pg positional parameters are not dollar quotes", dialect: "pg",
		src:  "PREPARE p AS SELECT $1, $2;\nSELECT $10 || $$a;b$$;",
		want: []Statement{wantStmt(1, "PREPARE p AS SELECT $1, $2"), wantStmt(2, "SELECT $10 || $$a;b$$")},
	},
	{
		name: "pg parameter directly followed by dollar quote", dialect: "pg",
		src:  "SELECT $1$$;$$;",
		want: []Statement{wantStmt(1, "SELECT $1$$;$$")},
	},
	{
		name: "pg dollar inside identifier is not a quote", dialect: "pg",
		src:  "SELECT a$b$ FROM t; SELECT 2;",
		want: []Statement{wantStmt(1, "SELECT a$b$ FROM t"), wantStmt(1, "SELECT 2")},
	},
	{
		name: "pg lone dollar", dialect: "pg",
		src:  "SELECT $ ;SELECT $a ;SELECT 2;",
		want: []Statement{wantStmt(1, "SELECT $"), wantStmt(1, "SELECT $a"), wantStmt(1, "SELECT 2")},
	},
	{
		name: "pg dollar quote markers inside string and comment", dialect: "pg",
		src:  "SELECT '$$'; -- $$\nSELECT 2;",
		want: []Statement{wantStmt(1, "SELECT '$$'"), wantStmt(2, "SELECT 2")},
	},
	{
		name: "no dollar quotes in mysql", dialect: "mysql",
		src:  "SELECT $$;SELECT 2;$$",
		want: []Statement{wantStmt(1, "SELECT $$"), wantStmt(1, "SELECT 2"), wantStmt(1, "$$")},
	},
	{
		name: "no dollar quotes in sqlite", dialect: "sqlite",
		src:  "SELECT $a$;SELECT $a$;",
		want: []Statement{wantStmt(1, "SELECT $a$"), wantStmt(1, "SELECT $a$")},
	},

	// Directives.
	{
		name: "no-transaction", dialect: "pg",
		src:  "-- kit:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n",
		want: []Statement{wantStmt(2, "CREATE INDEX CONCURRENTLY i ON t (x)")},
		noTx: true,
	},
	{
		name: "no-transaction whitespace tolerant, at end of file", dialect: "mysql",
		src:  "SELECT 1;\n \t--   kit:no-transaction \t",
		want: []Statement{wantStmt(1, "SELECT 1")},
		noTx: true,
	},
	{
		name: "no-transaction without space after dashes", dialect: "mysql",
		src:  "--kit:no-transaction\nSELECT 1;",
		want: []Statement{wantStmt(2, "SELECT 1")},
		noTx: true,
	},
	{
		name: "no-transaction in the middle of a statement", dialect: "sqlite",
		src:  "SELECT 1,\n-- kit:no-transaction\n2;",
		want: []Statement{wantStmt(1, "SELECT 1,\n-- kit:no-transaction\n2")},
		noTx: true,
	},
	{
		name: "directive in string is not a directive", dialect: "pg",
		src:  "SELECT '\n-- kit:no-transaction\n-- kit:bogus\n';",
		want: []Statement{wantStmt(1, "SELECT '\n-- kit:no-transaction\n-- kit:bogus\n'")},
	},
	{
		name: "directive in dollar quote is not a directive", dialect: "pg",
		src:  "SELECT $$\n-- kit:statement-begin\n$$;",
		want: []Statement{wantStmt(1, "SELECT $$\n-- kit:statement-begin\n$$")},
	},
	{
		name: "directive in block comment is not a directive", dialect: "mysql",
		src:  "/*\n-- kit:no-transaction\n-- kit:bogus\n*/ SELECT 1;",
		want: []Statement{wantStmt(4, "SELECT 1")},
	},
	{
		name: "directive not alone on its line is a plain comment", dialect: "pg",
		src:  "SELECT 1; -- kit:no-transaction\nSELECT 2 /* */ -- kit:bogus\n;",
		want: []Statement{wantStmt(1, "SELECT 1"), wantStmt(2, "SELECT 2")},
	},
	{
		name: "kit without colon is a plain comment", dialect: "pg",
		src:  "-- kit no-transaction\n-- kitchen: sink\nSELECT 1;",
		want: []Statement{wantStmt(3, "SELECT 1")},
	},
	{
		name: "CRLF directive", dialect: "pg",
		src:  "-- kit:no-transaction\r\nSELECT 1;\r\n",
		want: []Statement{wantStmt(2, "SELECT 1")},
		noTx: true,
	},
	{
		name: "unknown directive", dialect: "pg",
		src:     "SELECT 1;\n-- kit:no-transactions\n",
		wantErr: `line 2: unknown directive "kit:no-transactions" (valid directives, case-sensitive: kit:no-transaction, kit:statement-begin, kit:statement-end)`,
	},
	{
		name: "directives are case-sensitive", dialect: "sqlite",
		src:     "-- KIT:no-transaction\n",
		wantErr: `line 1: unknown directive "KIT:no-transaction" (valid directives, case-sensitive: kit:no-transaction, kit:statement-begin, kit:statement-end)`,
	},
	{
		name: "directive with trailing text", dialect: "mysql",
		src:     "\n\n-- kit:no-transaction because of CONCURRENTLY\n",
		wantErr: `line 3: unknown directive "kit:no-transaction because of CONCURRENTLY" (valid directives, case-sensitive: kit:no-transaction, kit:statement-begin, kit:statement-end)`,
	},

	// Statement blocks.
	{
		name: "mysql trigger block", dialect: "mysql",
		src: "CREATE TABLE t (id INT);\n" +
			"-- kit:statement-begin\n" +
			"CREATE TRIGGER trg BEFORE INSERT ON t\n" +
			"FOR EACH ROW\n" +
			"BEGIN\n" +
			"  SET NEW.id = NEW.id + 1; -- bump\n" +
			"  INSERT INTO log VALUES ('x;y');\n" +
			"END;\n" +
			"-- kit:statement-end\n" +
			"SELECT 1;\n",
		want: []Statement{
			wantStmt(1, "CREATE TABLE t (id INT)"),
			wantStmt(3, "CREATE TRIGGER trg BEFORE INSERT ON t\nFOR EACH ROW\nBEGIN\n  SET NEW.id = NEW.id + 1; -- bump\n  INSERT INTO log VALUES ('x;y');\nEND"),
			wantStmt(10, "SELECT 1"),
		},
	},
	{
		name: "sqlite trigger block with CRLF", dialect: "sqlite",
		src: "CREATE TABLE t (id INTEGER, n INTEGER);\r\n" +
			"\r\n" +
			"-- kit:statement-begin\r\n" +
			"-- keeps n in sync\r\n" +
			"CREATE TRIGGER trg AFTER INSERT ON t\r\n" +
			"BEGIN\r\n" +
			"  UPDATE t SET n = n + 1 WHERE id = NEW.id;\r\n" +
			"END;\r\n" +
			"-- kit:statement-end\r\n",
		want: []Statement{
			wantStmt(1, "CREATE TABLE t (id INTEGER, n INTEGER)"),
			wantStmt(5, "CREATE TRIGGER trg AFTER INSERT ON t\r\nBEGIN\r\n  UPDATE t SET n = n + 1 WHERE id = NEW.id;\r\nEND"),
		},
	},
	{
		name: "block without trailing semicolon, trailing comment dropped", dialect: "mysql",
		src:  "-- kit:statement-begin\nCREATE PROCEDURE p() BEGIN SELECT 1; END -- done\n-- kit:statement-end\n",
		want: []Statement{wantStmt(2, "CREATE PROCEDURE p() BEGIN SELECT 1; END")},
	},
	{
		name: "block strips leading and trailing semicolons only", dialect: "sqlite",
		src:  "-- kit:statement-begin\n;\nA; B;; -- c\n;\n-- kit:statement-end",
		want: []Statement{wantStmt(3, "A; B")},
	},
	{
		name: "empty block is dropped", dialect: "pg",
		src:  "-- kit:statement-begin\n-- nothing\n;\n-- kit:statement-end\nSELECT 1;",
		want: []Statement{wantStmt(5, "SELECT 1")},
	},
	{
		name: "block keeps quoting rules", dialect: "mysql",
		src:  "-- kit:statement-begin\nSELECT '\n-- kit:statement-end\n';\n-- kit:statement-end\n",
		want: []Statement{wantStmt(2, "SELECT '\n-- kit:statement-end\n'")},
	},
	{
		name: "no-transaction inside block", dialect: "pg",
		src:  "-- kit:statement-begin\nA;\n-- kit:no-transaction\nB;\n-- kit:statement-end\n",
		want: []Statement{wantStmt(2, "A;\n-- kit:no-transaction\nB")},
		noTx: true,
	},
	{
		name: "statement-begin without end", dialect: "mysql",
		src:     "SELECT 1;\n-- kit:statement-begin\nCREATE TRIGGER x BEGIN SELECT 1; END;\n",
		wantErr: "line 2: kit:statement-begin without matching kit:statement-end",
	},
	{
		name: "statement-end without begin", dialect: "sqlite",
		src:     "SELECT 1;\n\n-- kit:statement-end\n",
		wantErr: "line 3: kit:statement-end without preceding kit:statement-begin",
	},
	{
		name: "nested statement-begin", dialect: "mysql",
		src:     "-- kit:statement-begin\nA;\n-- kit:statement-begin\nB;\n-- kit:statement-end\n",
		wantErr: "line 3: nested kit:statement-begin (block already opened at line 1)",
	},
	{
		name: "statement-begin after unterminated statement", dialect: "sqlite",
		src:     "CREATE TABLE t (id int)\n-- kit:statement-begin\nA;\n-- kit:statement-end\n",
		wantErr: "line 2: kit:statement-begin inside the unterminated statement starting at line 1 (end it with ;)",
	},

	// Unterminated constructs.
	{
		name: "unterminated string", dialect: "pg",
		src:     "SELECT 1;\nSELECT 'abc;\nSELECT 2;\n",
		wantErr: "line 2: unterminated string",
	},
	{
		name: "unterminated E-string ending in escaped quote", dialect: "pg",
		src:     `SELECT E'abc\';`,
		wantErr: "line 1: unterminated string",
	},
	{
		name: "unterminated mysql string ending in backslash", dialect: "mysql",
		src:     "\nSELECT 'abc\\",
		wantErr: "line 2: unterminated string",
	},
	{
		name: "unterminated double-quoted identifier", dialect: "sqlite",
		src:     "SELECT 1;\n\nSELECT \"a\"\"b;",
		wantErr: "line 3: unterminated quoted identifier",
	},
	{
		name: "unterminated backtick", dialect: "mysql",
		src:     "SELECT `a;\n",
		wantErr: "line 1: unterminated quoted identifier",
	},
	{
		name: "unterminated bracket", dialect: "sqlite",
		src:     "\n\nSELECT [a;\n",
		wantErr: "line 3: unterminated quoted identifier",
	},
	{
		name: "unterminated dollar quote", dialect: "pg",
		src:     "SELECT 1;\n\n-- fn\nCREATE FUNCTION f() AS $body$\nSELECT 1;\n$$;\n",
		wantErr: "line 4: unterminated dollar-quoted string $body$",
	},
	{
		name: "unterminated empty-tag dollar quote", dialect: "pg",
		src:     "SELECT $$abc",
		wantErr: "line 1: unterminated dollar-quoted string $$",
	},
	{
		name: "unterminated block comment", dialect: "mysql",
		src:     "SELECT 1;\n/* abc;\n\n",
		wantErr: "line 2: unterminated block comment",
	},
	{
		name: "unterminated block comment ending in star", dialect: "pg",
		src:     "/*/",
		wantErr: "line 1: unterminated block comment",
	},
	{
		name: "unterminated string after CRLF lines", dialect: "pg",
		src:     "SELECT 1;\r\nSELECT 2;\r\nSELECT 'x\r\n",
		wantErr: "line 3: unterminated string",
	},

	// Line numbers and line endings.
	{
		name: "CRLF line endings", dialect: "pg",
		src:  "SELECT 1;\r\n-- c\r\nSELECT\r\n  2;\r\n\r\nSELECT 3\r\n",
		want: []Statement{wantStmt(1, "SELECT 1"), wantStmt(3, "SELECT\r\n  2"), wantStmt(6, "SELECT 3")},
	},
	{
		name: "lines after multi-line comment and dollar quote", dialect: "pg",
		src:  "/*\n\n*/ SELECT $$\n\n$$; /*\n*/\n\n  SELECT 2;",
		want: []Statement{wantStmt(3, "SELECT $$\n\n$$"), wantStmt(8, "SELECT 2")},
	},
	{
		name: "byte order mark", dialect: "pg",
		src:  "\uFEFF-- kit:no-transaction\nSELECT 1;",
		want: []Statement{wantStmt(2, "SELECT 1")},
		noTx: true,
	},

	// Dialects.
	{
		name: "unsupported dialect", dialect: "mssql",
		src:     "SELECT 1;",
		wantErr: `unsupported dialect "mssql" (supported: pg, mysql, sqlite)`,
	},
}

func TestSplitStatements(t *testing.T) {
	for _, tc := range splitCases {
		t.Run(tc.dialect+"/"+tc.name, func(t *testing.T) {
			got, dirs, err := splitStatements(tc.src, tc.dialect)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("got no error, want %q; statements: %s", tc.wantErr, fmtStmts(got))
				}
				if err.Error() != tc.wantErr {
					t.Fatalf("got error  %q\nwant error %q", err, tc.wantErr)
				}
				if got != nil {
					t.Errorf("got statements alongside an error: %s", fmtStmts(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(got) != 0 || len(tc.want) != 0 {
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("statements mismatch\n got: %s\nwant: %s", fmtStmts(got), fmtStmts(tc.want))
				}
			}
			if dirs.NoTransaction != tc.noTx {
				t.Errorf("NoTransaction = %v, want %v", dirs.NoTransaction, tc.noTx)
			}
		})
	}
}

func fmtStmts(stmts []Statement) string {
	var b strings.Builder
	for _, s := range stmts {
		fmt.Fprintf(&b, "\n  %d: %q", s.Line, s.SQL)
	}
	return b.String()
}

// TestSplitStatementsLinear guards against accidental quadratic behaviour:
// on these 1 MiB inputs a linear scan takes milliseconds, a quadratic one
// takes many seconds.
func TestSplitStatementsLinear(t *testing.T) {
	const n = 1 << 20
	inputs := map[string]string{
		"semicolons":               strings.Repeat(";", n),
		"many statements":          strings.Repeat("SELECT 1;\n", n/10),
		"dashes":                   strings.Repeat("-", n),
		"spaces then mysql dashes": strings.Repeat(" ", n/2) + strings.Repeat("--x", n/6),
		"comment lines":            strings.Repeat("--\n", n/3),
		"dollar signs":             strings.Repeat("$", n),
		"dollar words":             strings.Repeat("$aaaa ", n/6),
		"dollar tags":              "$" + strings.Repeat("a", n/2) + "$" + strings.Repeat("$a", n/4) + "$" + strings.Repeat("a", n/2) + "$",
		"long tag, near misses":    "$" + strings.Repeat("a", 1000) + "$" + strings.Repeat("$"+strings.Repeat("a", 999)+"b", n/1000) + "$" + strings.Repeat("a", 1000) + "$",
		"nested comments":          strings.Repeat("/*", n/2) + strings.Repeat("*/", n/2),
		"quotes":                   strings.Repeat("''", n/2),
		"backslash quotes":         "'" + strings.Repeat(`\'`, n/2) + "'",
		"blank lines":              strings.Repeat(" \t\r\n", n/4) + "-- x",
		"long blank line":          strings.Repeat(" ", n) + "-- x",
	}
	for name, src := range inputs {
		for _, d := range []string{"pg", "mysql", "sqlite"} {
			start := time.Now()
			_, _, _ = splitStatements(src, d)
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("%s/%s: took %v, want linear time", d, name, elapsed)
			}
		}
	}
}

var fuzzDialects = []string{"pg", "mysql", "sqlite"}

func FuzzSplitStatements(f *testing.F) {
	for _, tc := range splitCases {
		for i, d := range fuzzDialects {
			if d == tc.dialect {
				f.Add(tc.src, uint8(i))
			}
		}
	}
	f.Add("SELECT 1;--kit:x;\nSELECT 2", uint8(1))
	f.Add("SELECT 1 --;", uint8(1))
	f.Add("SELECT 1;\r\n-- kit:no-transaction\r\n'\r\n';", uint8(0))
	f.Add("\uFEFF/*/**/*/$a$;$a$;E'\\'';'", uint8(0))
	f.Add("   --x\n--kit:no-transaction\n[;]`;`", uint8(2))
	f.Add("-- kit:statement-begin\nA --;\n-- kit:statement-end", uint8(1))

	f.Fuzz(func(t *testing.T, src string, di uint8) {
		dialect := fuzzDialects[int(di)%len(fuzzDialects)]
		stmts, _, err := splitStatements(src, dialect)
		lines := strings.Count(src, "\n") + 1
		if err != nil {
			// Errors name a line of the file.
			msg := err.Error()
			rest, ok := strings.CutPrefix(msg, "line ")
			num, _, ok2 := strings.Cut(rest, ": ")
			n, convErr := strconv.Atoi(num)
			if !ok || !ok2 || convErr != nil || n < 1 || n > lines {
				t.Fatalf("error %q does not start with a valid \"line N: \" (file has %d lines)", msg, lines)
			}
			if stmts != nil {
				t.Fatalf("statements returned alongside error")
			}
			return
		}

		// Statements are non-empty, trimmed, appear in order in src, and
		// their lines are within the file and non-decreasing.
		from, prevLine := 0, 1
		for i, s := range stmts {
			if s.SQL == "" || s.SQL != strings.Trim(s.SQL, " \t\n\r\f\v") {
				t.Fatalf("statement %d not trimmed or empty: %q", i, s.SQL)
			}
			if s.Line < prevLine || s.Line > lines {
				t.Fatalf("statement %d: line %d out of order or range (prev %d, lines %d)", i, s.Line, prevLine, lines)
			}
			prevLine = s.Line
			k := strings.Index(src[from:], s.SQL)
			if k < 0 {
				t.Fatalf("statement %d %q is not a substring of the input (in order)", i, s.SQL)
			}
			from += k + len(s.SQL)
		}

		// Round trip: wrapping every statement in its own statement block
		// (with a terminating ';', and after a comment so the first token is
		// not at the start of a line) and re-splitting gives back exactly the
		// same statements. Plain ";\n" joining does not round-trip, because
		// statements from blocks contain ';'.
		var b strings.Builder
		want := make([]Statement, len(stmts))
		line := 1
		for i, s := range stmts {
			b.WriteString("-- kit:statement-begin\n/**/")
			want[i] = Statement{SQL: s.SQL, Line: line + 1}
			b.WriteString(s.SQL)
			b.WriteString(";\n-- kit:statement-end\n")
			line += 3 + strings.Count(s.SQL, "\n")
		}
		again, _, err := splitStatements(b.String(), dialect)
		if err != nil {
			t.Fatalf("re-splitting %q: %v", b.String(), err)
		}
		if len(again) != 0 || len(want) != 0 {
			if !reflect.DeepEqual(again, want) {
				t.Fatalf("round trip mismatch for %q\n got: %s\nwant: %s", b.String(), fmtStmts(again), fmtStmts(want))
			}
		}
	})
}
