<?php
// PHP's session module with the phpredis save handler (configured by the
// caller's -d options): "login HANDLER NAME" starts a session holding a user
// and prints its id; "logout HANDLER ID" destroys that session.
[$script, $action, $handler, $argument] = $argv;
ini_set('session.serialize_handler', $handler);

class User {
    public $name;
    protected $roles = ['chat'];
    public function __construct($name) { $this->name = $name; }
}

if ($action === 'login') {
    session_start();
    $_SESSION['name'] = $argument;
    $_SESSION['user'] = new User($argument);
    $_SESSION['visits'] = [1, 2.5, true, null];
    session_write_close();
    echo session_id();
} elseif ($action === 'logout') {
    session_id($argument);
    session_start();
    session_destroy();
    echo 'bye';
}
