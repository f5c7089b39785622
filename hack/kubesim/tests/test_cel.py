"""Tests for the CEL interpreter (cel.py, cel_eval.py, cel_lib.py)."""

import unittest
from datetime import timedelta

import fixtures  # noqa: F401  (sets sys.path)
import cel


def ev(expr, **env):
    return cel.compile(expr, tuple(env) or ("self", "oldSelf")).evaluate(env)


class Literals(unittest.TestCase):
    def test_numbers_strings_and_collections(self):
        self.assertEqual(ev("1 + 2 * 3"), 7)
        self.assertEqual(ev("0x1F"), 31)
        self.assertEqual(ev("1.5e1"), 15.0)
        self.assertEqual(ev("'a' + \"b\" + '''c'''"), "abc")
        self.assertEqual(ev(r"'\n\t\x41\u00e9'"), "\n\tAé")
        self.assertEqual(ev(r"r'\d+'"), r"\d+")
        self.assertEqual(ev("b'ab'"), b"ab")
        self.assertEqual(ev("[1, 2, 3,]"), [1, 2, 3])
        self.assertEqual(ev("{'a': 1, 'b': [true, null]}"), {"a": 1, "b": [True, None]})
        self.assertEqual(ev("-9223372036854775808"), -(1 << 63))

    def test_uint_literals_do_not_mix_with_int(self):
        self.assertEqual(ev("1u + 2u"), 3)
        with self.assertRaisesRegex(cel.CELEvalError, "no such overload"):
            ev("1u + 2")


class Operators(unittest.TestCase):
    def test_arithmetic_follows_cel(self):
        self.assertEqual(ev("-7 / 2"), -3)
        self.assertEqual(ev("-7 % 2"), -1)
        self.assertEqual(ev("7.0 / 2.0"), 3.5)
        with self.assertRaisesRegex(cel.CELEvalError, "division by zero"):
            ev("1 / 0")
        with self.assertRaisesRegex(cel.CELEvalError, "integer overflow"):
            ev("9223372036854775807 + 1")

    def test_comparisons_and_equality(self):
        self.assertTrue(ev("1 == 1.0"))
        self.assertTrue(ev("'a' < 'b' && 2 >= 2 && 1 != 2"))
        self.assertFalse(ev("1 == 'a'"))
        self.assertTrue(ev("[1, 'a'] == [1, 'a'] && {'k': 1} == {'k': 1}"))
        with self.assertRaisesRegex(cel.CELEvalError, "no such overload"):
            ev("1 < 'a'")

    def test_logic_absorbs_errors_like_cel(self):
        self.assertFalse(ev("false && 1/0 == 1"))
        self.assertFalse(ev("1/0 == 1 && false"))
        self.assertTrue(ev("1/0 == 1 || true"))
        with self.assertRaises(cel.CELEvalError):
            ev("1/0 == 1 && true")

    def test_ternary_in_and_not(self):
        self.assertEqual(ev("true ? 'y' : 'n'"), "y")
        self.assertTrue(ev("'a' in ['a', 'b'] && 'k' in {'k': 1} && !('z' in ['a'])"))

    def test_string_concatenation_requires_strings(self):
        with self.assertRaisesRegex(cel.CELEvalError, "no such overload"):
            ev("'a' + 1")


class Fields(unittest.TestCase):
    def test_select_has_and_index(self):
        s = {"a": {"b": [10, 20]}, "n": None}
        self.assertEqual(ev("self.a.b[1]", self=s), 20)
        self.assertTrue(ev("has(self.a) && !has(self.z) && has(self.n)", self=s))
        self.assertEqual(ev("self['a']['b'][0]", self=s), 10)

    def test_missing_key_and_bad_index(self):
        with self.assertRaisesRegex(cel.CELEvalError, "^no such key: z$"):
            ev("self.z", self={})
        with self.assertRaisesRegex(cel.CELEvalError, "index '2' out of range in list size '1'"):
            ev("self[2]", self=[1])

    def test_escaped_property_names(self):
        s = {"namespace": "n", "x-y": "d", "a.b": "p", "c__d": "u"}
        self.assertEqual(ev("self.__namespace__ + self.x__dash__y + self.a__dot__b + "
                            "self.c__underscores__d", self=s), "ndpu")

    def test_optional_syntax(self):
        self.assertEqual(ev("self.?a.orValue('d')", self={}), "d")
        self.assertEqual(ev("self.?a.orValue('d')", self={"a": "v"}), "v")
        self.assertFalse(ev("self.?a.b.hasValue()", self={}))
        self.assertEqual(ev("self[?'k'].orValue(0)", self={"k": 4}), 4)


class Macros(unittest.TestCase):
    def test_list_macros(self):
        s = {"l": [1, 2, 3]}
        self.assertTrue(ev("self.l.all(x, x > 0)", self=s))
        self.assertTrue(ev("self.l.exists(x, x == 2)", self=s))
        self.assertTrue(ev("self.l.exists_one(x, x > 2)", self=s))
        self.assertEqual(ev("self.l.map(x, x * 10)", self=s), [10, 20, 30])
        self.assertEqual(ev("self.l.map(x, x > 1, x * 10)", self=s), [20, 30])
        self.assertEqual(ev("self.l.filter(x, x % 2 == 1)", self=s), [1, 3])

    def test_macros_over_map_keys(self):
        self.assertTrue(ev("self.all(k, k.startsWith('a'))", self={"ab": 1, "ac": 2}))

    def test_all_is_false_even_when_another_item_errors(self):
        self.assertFalse(ev("self.all(x, 1 / x > 0)", self=[0, -1]))

    def test_nested_macros(self):
        self.assertTrue(ev("self.all(r, r.ports.exists(p, p == 80))",
                           self=[{"ports": [80]}, {"ports": [443, 80]}]))


class Functions(unittest.TestCase):
    def test_strings(self):
        self.assertEqual(ev("size('héllo')"), 5)
        self.assertEqual(ev("'Hello'.lowerAscii() + 'é'.upperAscii()"), "helloé")
        self.assertTrue(ev("'abc'.startsWith('a') && 'abc'.endsWith('c') && 'abc'.contains('b')"))
        self.assertTrue(ev("'abc-1'.matches('^[a-z]+-[0-9]$') && 'xabc'.matches('abc')"))
        self.assertEqual(ev("'a,b,c'.split(',')"), ["a", "b", "c"])
        self.assertEqual(ev("'a,b,c'.split(',', 2)"), ["a", "b,c"])
        self.assertEqual(ev("['a', 'b'].join('-')"), "a-b")
        self.assertEqual(ev("'  x '.trim()"), "x")
        self.assertEqual(ev("'hello'.substring(1, 3) + 'hello'.charAt(4)"), "elo")
        self.assertEqual(ev("'hello'.indexOf('l') + 'hello'.lastIndexOf('l')"), 5)
        self.assertEqual(ev("'aaa'.replace('a', 'b', 2)"), "bba")
        self.assertEqual(ev("'abc123'.find('[0-9]+')"), "123")

    def test_format(self):
        self.assertEqual(ev("'%s has %d items (%.2f%%)'.format(['x', 3, 12.5])"),
                         "x has 3 items (12.50%)")
        self.assertEqual(ev("'%s'.format([[1, 'a']])"), "[1, a]")

    def test_bad_regex_is_an_evaluation_error(self):
        with self.assertRaisesRegex(cel.CELEvalError, "error parsing regexp"):
            ev("'a'.matches('(')")

    def test_conversions(self):
        self.assertEqual(ev("int('42') + int(2.9)"), 44)
        self.assertEqual(ev("string(1.5) + string(2.0) + string(true) + string(7)"), "1.52true7")
        self.assertEqual(ev("double('2.5')"), 2.5)
        self.assertTrue(ev("type(1) == int && type('a') == string && type([]) == list"))
        with self.assertRaisesRegex(cel.CELEvalError, "type conversion error"):
            ev("int('x')")

    def test_lists(self):
        self.assertTrue(ev("[1, 2, 3].isSorted() && [3, 1].sum() == 4"))
        self.assertEqual(ev("[3, 1, 2].min() + [3, 1, 2].max()"), 4)
        self.assertTrue(ev("sets.contains([1, 2], [2]) && sets.intersects([1], [1, 5])"))
        self.assertTrue(ev("sets.equivalent([1, 2], [2, 1, 1])"))

    def test_time(self):
        self.assertEqual(ev("duration('1h30m')"), timedelta(minutes=90))
        self.assertTrue(ev("timestamp('2026-01-01T00:00:00Z') + duration('24h') == "
                           "timestamp('2026-01-02T00:00:00Z')"))
        self.assertEqual(ev("timestamp('2026-03-04T05:06:07Z').getFullYear()"), 2026)
        self.assertEqual(ev("string(duration('90s'))"), "90s")

    def test_kubernetes_quantity(self):
        self.assertTrue(ev("quantity('1Gi') == quantity('1024Mi')"))
        self.assertTrue(ev("quantity('500m').isLessThan(quantity('1'))"))
        self.assertEqual(ev("quantity('2k').asInteger()"), 2000)
        self.assertEqual(ev("quantity('1.5').add(quantity('500m')).asInteger()"), 2)
        self.assertTrue(ev("isQuantity('1e3') && !isQuantity('1 Gi')"))

    def test_kubernetes_url_and_ip(self):
        self.assertTrue(ev("isURL('https://example.com/x') && !isURL('not a url')"))
        self.assertEqual(ev("url('https://example.com:8443/p?q=1').getPort()"), "8443")
        self.assertEqual(ev("url('https://example.com:8443/p').getHostname()"), "example.com")
        self.assertTrue(ev("isIP('10.0.0.1') && !isIP('10.0.0.01') && isCIDR('10.0.0.0/8')"))
        self.assertTrue(ev("cidr('10.0.0.0/8').containsIP(ip('10.2.3.4'))"))
        self.assertEqual(ev("ip('::1').family()"), 6)


class Compilation(unittest.TestCase):
    def test_syntax_error(self):
        with self.assertRaisesRegex(cel.CELError, "Syntax error"):
            cel.compile("self.a +")

    def test_undeclared_reference_and_function(self):
        with self.assertRaisesRegex(cel.CELError, "undeclared reference to 'foo'"):
            cel.compile("foo == 1")
        with self.assertRaisesRegex(cel.CELError, "undeclared reference to 'nosuch'"):
            cel.compile("self.nosuch()")

    def test_reserved_word(self):
        with self.assertRaises(cel.CELError):
            cel.compile("self.a == if")

    def test_programs_are_cached_and_report_old_self_use(self):
        p = cel.compile("self == oldSelf")
        self.assertIs(p, cel.compile("self == oldSelf"))
        self.assertTrue(p.uses_old_self)
        self.assertFalse(cel.compile("self == 1").uses_old_self)


if __name__ == "__main__":
    unittest.main()
