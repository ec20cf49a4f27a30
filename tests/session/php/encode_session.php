<?php
// Fill $_SESSION with every kind of value, then print session_encode()
// under the serialize handler given as the first argument.
ini_set('session.serialize_handler', $argv[1]);
session_start();

enum Suit: string { case Hearts = 'H'; case Spades = 'S'; }

class User {
    public $name;
    protected $roles;
    private $password = 'hunter2';
    public function __construct($name, $roles) { $this->name = $name; $this->roles = $roles; }
}

// Serializable alone (deprecated since PHP 8.1) is the C: format.
class OldStyle implements Serializable {
    public function serialize() { return 'x:{}'; }
    public function unserialize($data) {}
}

$user = new User('ada', ['admin', 'dev']);
$_SESSION['user'] = $user;
$_SESSION['again'] = $user;                // the same object: r:
$_SESSION['nested'] = ['a' => ['b' => ['c' => [1, 2, [3, [4]]]]]];
$_SESSION['list'] = ['x', 'y', 'z'];
$_SESSION['map'] = [10 => 'ten', '11' => 'eleven', '012' => 'zero-twelve', -5 => 'minus five'];
$_SESSION['floats'] = [0.1, -2.5, 1e100, 1.5e-7, INF, -INF, NAN, -0.0, 3.0];
$_SESSION['ints'] = [0, -1, PHP_INT_MAX, PHP_INT_MIN];
$_SESSION['bools'] = [true, false, null];
$_SESSION['unicode'] = "héllo wörld ☃ 日本 🎉";
$_SESSION['binary'] = "\x00\xff\xfe binary";
$_SESSION['empty'] = ['', []];
$_SESSION['quote'] = 'a "quoted"; s:3:"x"; string|with|pipes';
$_SESSION['suit'] = Suit::Hearts;
$_SESSION['std'] = (object) ['k' => 'v', 'n' => 1];
$_SESSION['custom'] = new OldStyle();
$shared = ['count' => 1];
$_SESSION['ref1'] = &$shared;
$_SESSION['ref2'] = &$shared;
$cycle = ['me' => null];
$cycle['me'] = &$cycle;
$_SESSION['cycle'] = $cycle;
echo session_encode();
