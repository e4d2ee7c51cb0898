-- Every buyer's predictions on Spark: computed by the strata CLI with the same code as the DuckDB
-- Python model of this name and read from the Parquet it writes to env STRATA_PREDICTIONS_DIR
-- (see int_customer_models_fitted). Without it, there are no predictions (no rows).


{%- set exchange = env_var('STRATA_PREDICTIONS_DIR', '') | trim %}
{%- set horizons = var('prediction_horizon_days') %}

{% if exchange %}
    with

    scored as (
        select * from parquet.`{{ exchange | replace('`', '``') }}/predictions`
    ),

    final as (
        select
            cast(purpose as string) as purpose,
            cast(user_id as string) as user_id,
            cast(p_alive as double) as p_alive,
            {% for days in horizons -%}
                cast(expected_purchases_{{ days }}d as double) as expected_purchases_{{ days }}d,
            {% endfor -%}
            cast(expected_purchases_holdout as double) as expected_purchases_holdout,
            cast(discounted_expected_purchases as double) as discounted_expected_purchases,
            cast(expected_average_order_value as double) as expected_average_order_value,
            cast(predicted_clv as double) as predicted_clv,
            cast(purchase_model as string) as purchase_model,
            cast(next_purchase_days_p10 as double) as next_purchase_days_p10,
            cast(next_purchase_days_p50 as double) as next_purchase_days_p50,
            cast(next_purchase_days_p90 as double) as next_purchase_days_p90
        from scored
    )

    select * from final
{% else %}
    select
        cast(null as string) as purpose,
        cast(null as string) as user_id,
        cast(null as double) as p_alive,
        {% for days in horizons -%}
            cast(null as double) as expected_purchases_{{ days }}d,
        {% endfor -%}
        cast(null as double) as expected_purchases_holdout,
        cast(null as double) as discounted_expected_purchases,
        cast(null as double) as expected_average_order_value,
        cast(null as double) as predicted_clv,
        cast(null as string) as purchase_model,
        cast(null as double) as next_purchase_days_p10,
        cast(null as double) as next_purchase_days_p50,
        cast(null as double) as next_purchase_days_p90
    where 1 = 0
{% endif %}
