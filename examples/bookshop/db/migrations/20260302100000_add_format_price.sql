-- migrate:up
-- How the shop prints a price: '12.50 EUR'.
CREATE FUNCTION format_price(price money_amount) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
RETURN to_char((price).cents / 100.0, 'FM999999999990.00') || ' ' || (price).currency;

-- migrate:down
DROP FUNCTION format_price(money_amount);
