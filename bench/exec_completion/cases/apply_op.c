long apply_op(int op, long a, long b)
{
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return b != 0 ? a / b : 0;
    case 4: return a & b;
    case 5: return a | b;
    case 6: return a ^ b;
    case 7: return a << (b & 63);
    case 8: return a >> (b & 63);
    case 9: return a < b ? a : b;
    case 10: return a > b ? a : b;
    case 11: return -a;
    default: return 0x7eadbeef;
    }
}
